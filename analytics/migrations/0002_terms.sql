-- 0002_terms: materialized term counts per transcript (computed once, at ingest).
-- scope: 'reasoning' (reasoning + reasoning_summary segments), 'output', 'other' (user, system,
-- tool); `--scope all` sums the three. A transcript is counted when it has doc_tokens rows.
create table term_vocab (
    term_id integer not null,
    term    varchar not null
);

create table doc_terms (
    transcript_pk bigint  not null,
    scope         varchar not null,
    term_id       integer not null,
    n             integer not null
);

create table doc_tokens (
    transcript_pk bigint  not null,
    scope         varchar not null,
    tokens        bigint  not null
);
