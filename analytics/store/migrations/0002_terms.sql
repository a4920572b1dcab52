-- 0002_terms: materialized term counts (computed once per transcript, kept current incrementally).
-- Documented in docs/terms.md ("Tables"). scope is 'reasoning' (reasoning + reasoning_summary
-- segments), 'output' or 'other' (user, system, tool); `--scope all` sums the three.
-- A transcript is counted when it has doc_tokens rows (one per scope, 0 when it has no such text).

-- Per transcript: tokens in each scope.
create table doc_tokens (
    transcript_pk bigint  not null,
    scope         varchar not null,
    tokens        bigint  not null
);

-- Every token ever counted, with a small integer id (ids are never reused or changed).
create table term_vocab (
    term_id integer not null,
    term    varchar not null
);

-- Storage of the per-transcript counts: per transcript and scope, the tokens occurring in it
-- (term_ids) and how often (counts, >= 1), as parallel lists; one row per (transcript, scope)
-- with at least one token. Lists load ~3x faster than one row per (transcript, term).
create table doc_term_lists (
    transcript_pk bigint    not null,
    scope         varchar   not null,
    term_ids      integer[] not null,
    counts        integer[] not null
);

-- The documented per-transcript shape: one row per (transcript, scope, term), n >= 1.
create view doc_terms as
select l.transcript_pk, l.scope, v.term, l.n
from (
    select transcript_pk, scope, unnest(term_ids) as term_id, unnest(counts) as n
    from doc_term_lists
) l
join term_vocab v on v.term_id = l.term_id;

-- Per cell (run, step, environment, scope) and term: sums over the cell's transcripts. Besides
-- occurrences and docs_with_term, the second moments that the cluster-robust (ratio-estimator)
-- rate interval needs: sum_n2 = sum of n^2, sum_n_tokens = sum of n * tokens (tokens of the same
-- transcript and scope). Exactly one row per key after every materialize; still, readers sum.
create table step_term_counts (
    run            varchar not null,
    step           bigint  not null,
    environment    varchar,
    scope          varchar not null,
    term           varchar not null,
    occurrences    bigint  not null,
    docs_with_term bigint  not null,
    sum_n2         bigint  not null,
    sum_n_tokens   bigint  not null
);

-- Per cell: transcripts, transcripts with >= 1 token in scope (docs), tokens, sum of tokens^2.
create table step_token_counts (
    run          varchar not null,
    step         bigint  not null,
    environment  varchar,
    scope        varchar not null,
    transcripts  bigint  not null,
    docs         bigint  not null,
    tokens       bigint  not null,
    sum_tokens2  bigint  not null
);
