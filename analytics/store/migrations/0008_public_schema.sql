-- 0008_public_schema: the documented views move to `main` (what a plain DuckDB client sees first)
-- and the internal tables to a schema of their own, `internal` (docs/sql.md, "Connecting").
--
-- Before: internal tables in `main` (so `select * from transcripts` in the duckdb shell was the
-- internal table) and the public views in `api`. After: `main` holds only the documented views;
-- `internal` holds every table, the ledger `schema_migrations` and the internal view `doc_terms`;
-- the `api.*` views stay as aliases of the `main` views for queries written before this.
-- The Store's own connection (and its cursors) set `search_path = 'internal,main'`, so the
-- unqualified SQL of ingest, terms and classifiers, and tables created by later migrations,
-- land in and read from `internal`.
--
-- DuckDB has no ALTER TABLE ... SET SCHEMA, so each table is re-created in `internal` with the
-- very DDL of migrations 0001-0007 (columns, types, NOT NULL, defaults, primary keys, UNIQUE; no
-- other indexes exist), its rows copied by name, and the old table dropped. The runner applies
-- this file in one transaction: a failure or Ctrl-C leaves the store as it was. On a large store
-- it rewrites every table once (the file grows by about their size until DuckDB reuses the
-- freed blocks).
create schema internal;

-- ---------------------------------------------------------------------------------------------
-- Tables (DDL of 0001_core, 0002_terms, 0003_classifiers, 0006_jobs and the migration ledger)
-- ---------------------------------------------------------------------------------------------
create table internal.schema_migrations (
    name        varchar primary key,
    applied_at  timestamp
);
insert into internal.schema_migrations by name select * from main.schema_migrations;

create table internal.runs (
    run         varchar primary key,
    created_at  timestamp default current_timestamp
);
insert into internal.runs by name select * from main.runs;

create table internal.checkpoints (
    run   varchar not null,
    step  bigint  not null,
    name  varchar,
    primary key (run, step)
);
insert into internal.checkpoints by name select * from main.checkpoints;

create table internal.transcripts (
    pk            bigint not null,
    id            varchar not null,
    run           varchar not null,
    step          bigint  not null,
    environment   varchar,
    epoch         integer,
    source_file   varchar,
    source_line   bigint,
    source_entry  varchar,
    content_hash  varchar not null,
    covert_action boolean,
    score         double,
    metadata      json,
    ingested_at   timestamp default current_timestamp
);
insert into internal.transcripts by name select * from main.transcripts;

create table internal.segments (
    transcript_pk bigint  not null,
    ordinal       integer not null,
    role          varchar,
    kind          varchar not null,
    text          varchar not null,
    redacted      boolean not null default false
);
insert into internal.segments by name select * from main.segments;

create table internal.rejects (
    file        varchar not null,
    line        bigint,
    entry       varchar,
    reason      varchar not null,
    rejected_at timestamp default current_timestamp
);
insert into internal.rejects by name select * from main.rejects;

create table internal.ingested_files (
    file        varchar not null,
    format      varchar not null,
    added       bigint  not null,
    duplicates  bigint  not null,
    rejected    bigint  not null,
    finished_at timestamp default current_timestamp
);
insert into internal.ingested_files by name select * from main.ingested_files;

create table internal.doc_tokens (
    transcript_pk bigint  not null,
    scope         varchar not null,
    tokens        bigint  not null
);
insert into internal.doc_tokens by name select * from main.doc_tokens;

create table internal.term_vocab (
    term_id integer not null,
    term    varchar not null
);
insert into internal.term_vocab by name select * from main.term_vocab;

create table internal.doc_term_lists (
    transcript_pk bigint    not null,
    scope         varchar   not null,
    term_ids      integer[] not null,
    counts        integer[] not null
);
insert into internal.doc_term_lists by name select * from main.doc_term_lists;

create table internal.step_term_counts (
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
insert into internal.step_term_counts by name select * from main.step_term_counts;

create table internal.step_token_counts (
    run          varchar not null,
    step         bigint  not null,
    environment  varchar,
    scope        varchar not null,
    transcripts  bigint  not null,
    docs         bigint  not null,
    tokens       bigint  not null,
    sum_tokens2  bigint  not null
);
insert into internal.step_token_counts by name select * from main.step_token_counts;

create table internal.classifier_embeddings (
    model      varchar not null,
    text_hash  bigint  not null,
    embedding  float[] not null
);
insert into internal.classifier_embeddings by name select * from main.classifier_embeddings;

create table internal.classifier_registry (
    classifier_id    integer primary key,
    name             varchar not null,
    version          varchar not null,
    artifact_sha256  varchar not null,
    embedding_model  varchar not null,
    threshold        double  not null,
    card             json,
    registered_at    timestamp default current_timestamp,
    unique (name, artifact_sha256)
);
insert into internal.classifier_registry by name select * from main.classifier_registry;

create table internal.classifier_sentences (
    classifier_id  integer  not null,
    transcript_pk  bigint   not null,
    ordinal        integer  not null,
    sentence       integer  not null,
    start_char     integer  not null,
    end_char       integer  not null,
    stage          tinyint  not null,
    score          float    not null,
    flagged        boolean  not null
);
insert into internal.classifier_sentences by name select * from main.classifier_sentences;

create table internal.classifier_transcripts (
    classifier_id  integer not null,
    transcript_pk  bigint  not null,
    n_sentences    integer not null,
    n_candidates   integer not null,
    max_score      float,
    flagged        boolean not null,
    n_flagged      integer not null,
    scored_at      timestamp default current_timestamp
);
insert into internal.classifier_transcripts by name select * from main.classifier_transcripts;

create table internal.jobs (
    job_id          varchar primary key,
    kind            varchar not null,
    engine          varchar not null,
    input           varchar not null,
    partials        varchar not null,
    shards          integer not null,
    parts           integer not null,
    transcripts     bigint  not null,
    added           bigint  not null,
    merged          bigint  not null,
    skipped         bigint  not null,
    started_at      timestamp,
    finished_at     timestamp,
    merged_at       timestamp default current_timestamp
);
insert into internal.jobs by name select * from main.jobs;

-- ---------------------------------------------------------------------------------------------
-- Out of main: the old views and tables
-- ---------------------------------------------------------------------------------------------
drop view api.transcripts;
drop view api.reasoning;
drop view api.term_counts;
drop view api.step_totals;
drop view api.transcript_terms;
drop view api.transcript_tokens;
drop view api.rejects;
drop view api.classifier_versions;
drop view api.sentence_scores;
drop view api.transcript_flags;
drop view main.doc_terms;

drop table main.schema_migrations;
drop table main.runs;
drop table main.checkpoints;
drop table main.transcripts;
drop table main.segments;
drop table main.rejects;
drop table main.ingested_files;
drop table main.doc_tokens;
drop table main.term_vocab;
drop table main.doc_term_lists;
drop table main.step_term_counts;
drop table main.step_token_counts;
drop table main.classifier_embeddings;
drop table main.classifier_registry;
drop table main.classifier_sentences;
drop table main.classifier_transcripts;
drop table main.jobs;

-- The internal per-transcript shape of 0007_sparse_counts, now beside its tables.
create view internal.doc_terms as
select l.transcript_pk, l.scope, v.term, l.n
from (
    select transcript_pk, scope, unnest(term_ids) as term_id,
           unnest(list_resize(counts, len(term_ids), 1)) as n
    from internal.doc_term_lists
) l
join internal.term_vocab v on v.term_id = l.term_id;

-- ---------------------------------------------------------------------------------------------
-- The documented views, in main (bodies of 0004_views and 0005_classifier_views; they name
-- `internal.` explicitly, so they answer under any search path and under an ATTACH alias)
-- ---------------------------------------------------------------------------------------------
create view main.transcripts as
select
    t.id            as transcript_id,
    t.run,
    t.step,
    t.environment,
    t.epoch,
    t.covert_action,
    t.score,
    t.source_file || coalesce(':' || t.source_line, ' [' || t.source_entry || ']', '') as source,
    t.metadata
from internal.transcripts t;

create view main.reasoning as
select
    t.id as transcript_id,
    t.run,
    t.step,
    t.environment,
    s.ordinal,
    s.kind,
    s.text
from internal.segments s
join internal.transcripts t on t.pk = s.transcript_pk
where s.kind in ('reasoning', 'reasoning_summary');

create view main.term_counts as
select
    run,
    step,
    environment,
    term,
    sum(occurrences)::bigint    as occurrences,
    sum(docs_with_term)::bigint as docs_with_term
from internal.step_term_counts
where scope = 'reasoning'
group by run, step, environment, term;

create view main.step_totals as
select
    run,
    step,
    environment,
    sum(tokens)::bigint as tokens,
    sum(docs)::bigint   as docs
from internal.step_token_counts
where scope = 'reasoning'
group by run, step, environment;

create view main.transcript_terms as
select
    t.id as transcript_id,
    t.run,
    t.step,
    t.environment,
    d.term,
    d.n::bigint as occurrences
from internal.doc_terms d
join internal.transcripts t on t.pk = d.transcript_pk
where d.scope = 'reasoning';

create view main.transcript_tokens as
select
    t.id as transcript_id,
    t.run,
    t.step,
    t.environment,
    d.tokens::bigint as tokens
from internal.doc_tokens d
join internal.transcripts t on t.pk = d.transcript_pk
where d.scope = 'reasoning';

create view main.rejects as
select file, line, entry, reason, rejected_at
from internal.rejects;

create view main.classifier_versions as
with latest as (
    select r.name, t.run, max(r.classifier_id) as classifier_id
    from internal.classifier_registry r
    join internal.classifier_transcripts c on c.classifier_id = r.classifier_id
    join internal.transcripts t on t.pk = c.transcript_pk
    group by r.name, t.run
)
select
    l.name            as classifier,
    l.run,
    r.version,
    r.threshold,
    r.embedding_model,
    r.artifact_sha256,
    r.registered_at,
    r.card
from latest l
join internal.classifier_registry r on r.classifier_id = l.classifier_id;

create view main.sentence_scores as
with latest as (
    select r.name, t.run, max(r.classifier_id) as classifier_id
    from internal.classifier_registry r
    join internal.classifier_transcripts c on c.classifier_id = r.classifier_id
    join internal.transcripts t on t.pk = c.transcript_pk
    group by r.name, t.run
)
select
    t.id                 as transcript_id,
    t.run,
    t.step,
    l.name               as classifier,
    -- offsets are code-point indices into the segment text; DuckDB's substring counts code points too
    substring(g.text, s.start_char + 1, s.end_char - s.start_char) as sentence,
    s.score::double      as score,
    s.flagged,
    t.environment,
    s.ordinal,
    s.sentence           as sentence_index
from internal.classifier_sentences s
join internal.transcripts t on t.pk = s.transcript_pk
join latest l on l.classifier_id = s.classifier_id and l.run = t.run
join internal.segments g on g.transcript_pk = s.transcript_pk and g.ordinal = s.ordinal;

create view main.transcript_flags as
with latest as (
    select r.name, t.run, max(r.classifier_id) as classifier_id
    from internal.classifier_registry r
    join internal.classifier_transcripts c on c.classifier_id = r.classifier_id
    join internal.transcripts t on t.pk = c.transcript_pk
    group by r.name, t.run
)
select
    t.id                 as transcript_id,
    t.run,
    t.step,
    t.environment,
    l.name               as classifier,
    c.max_score::double  as max_score,
    c.flagged,
    c.n_sentences::bigint as sentences,
    c.n_flagged::bigint   as flagged_sentences
from internal.classifier_transcripts c
join internal.transcripts t on t.pk = c.transcript_pk
join latest l on l.classifier_id = c.classifier_id and l.run = t.run;

-- ---------------------------------------------------------------------------------------------
-- Comments: the documentation a client reads with `describe` or duckdb_columns()
-- (docs/sql.md holds the same text; tests/test_sql_docs.py keeps them equal)
-- ---------------------------------------------------------------------------------------------
comment on view main.transcripts is 'One row per stored transcript (a rollout at one checkpoint). (run, transcript_id) is unique.';
comment on column main.transcripts.transcript_id is 'The record''s id; unique within its run.';
comment on column main.transcripts.run is 'Training run the transcript belongs to.';
comment on column main.transcripts.step is 'Checkpoint (training step) the transcript was sampled at.';
comment on column main.transcripts.environment is 'RL environment / task; NULL when the source did not say.';
comment on column main.transcripts.epoch is 'Sample epoch within the checkpoint''s evaluation; NULL when unknown.';
comment on column main.transcripts.covert_action is 'True when the environment recorded a covert (rule-breaking) action; NULL when unknown.';
comment on column main.transcripts.score is 'Reward or score the environment gave; NULL when unknown.';
comment on column main.transcripts.source is 'Where the record came from: file:line for JSONL, file [entry] for Inspect logs and text files.';
comment on column main.transcripts.metadata is 'The record''s metadata object as JSON (NULL when absent).';

comment on view main.reasoning is 'Reasoning segments of every transcript, in order: kind reasoning or reasoning_summary. Redacted reasoning has empty text.';
comment on column main.reasoning.transcript_id is 'Transcript the segment belongs to (join with transcripts on run and transcript_id).';
comment on column main.reasoning.run is 'Training run.';
comment on column main.reasoning.step is 'Checkpoint step.';
comment on column main.reasoning.environment is 'RL environment; NULL when unknown.';
comment on column main.reasoning.ordinal is 'Position of the segment within its transcript (0-based, over all segments, so gaps are non-reasoning segments).';
comment on column main.reasoning.kind is 'reasoning (the chain of thought) or reasoning_summary (a provider''s summary of it).';
comment on column main.reasoning.text is 'The segment text, verbatim (empty when the provider redacted it).';

comment on view main.term_counts is 'Term counts in reasoning (reasoning + summaries) per run, step and environment, under the token contract. Only terms that occur have rows.';
comment on column main.term_counts.run is 'Training run.';
comment on column main.term_counts.step is 'Checkpoint step.';
comment on column main.term_counts.environment is 'RL environment; NULL when unknown.';
comment on column main.term_counts.term is 'A token: lowercased letters/digits joined by inner apostrophes (analytics/terms/tokens.py).';
comment on column main.term_counts.occurrences is 'How many times the term occurs in the reasoning of these transcripts.';
comment on column main.term_counts.docs_with_term is 'How many of these transcripts use the term at least once.';

comment on view main.step_totals is 'Denominators for term_counts: reasoning tokens and counted transcripts per run, step and environment.';
comment on column main.step_totals.run is 'Training run.';
comment on column main.step_totals.step is 'Checkpoint step.';
comment on column main.step_totals.environment is 'RL environment; NULL when unknown.';
comment on column main.step_totals.tokens is 'Reasoning tokens (token contract) in these transcripts.';
comment on column main.step_totals.docs is 'Transcripts with at least one reasoning token (the denominator of docs_with_term). Transcripts ingested with --defer-terms are missing until `cotwatch terms materialize`.';

comment on view main.transcript_terms is 'Per-transcript term counts in reasoning (the rows behind term_counts).';
comment on column main.transcript_terms.transcript_id is 'Transcript id (unique within run).';
comment on column main.transcript_terms.run is 'Training run.';
comment on column main.transcript_terms.step is 'Checkpoint step.';
comment on column main.transcript_terms.environment is 'RL environment; NULL when unknown.';
comment on column main.transcript_terms.term is 'A token under the token contract.';
comment on column main.transcript_terms.occurrences is 'How many times the term occurs in this transcript''s reasoning (at least 1).';

comment on view main.transcript_tokens is 'Reasoning length in tokens per transcript (the rows behind step_totals).';
comment on column main.transcript_tokens.transcript_id is 'Transcript id (unique within run).';
comment on column main.transcript_tokens.run is 'Training run.';
comment on column main.transcript_tokens.step is 'Checkpoint step.';
comment on column main.transcript_tokens.environment is 'RL environment; NULL when unknown.';
comment on column main.transcript_tokens.tokens is 'Reasoning tokens (token contract); 0 when the transcript has no reasoning.';

comment on view main.rejects is 'Records that ingest --skip-bad left out, with the reason.';
comment on column main.rejects.file is 'Input file.';
comment on column main.rejects.line is 'Line number for JSONL input; NULL otherwise.';
comment on column main.rejects.entry is 'Sample / entry name for Inspect logs and text files; NULL for JSONL.';
comment on column main.rejects.reason is 'Why the record was rejected.';
comment on column main.rejects.rejected_at is 'When it was rejected (timestamp of the ingest).';

comment on view main.classifier_versions is 'Which classifier version the other classifier views show, per classifier and run: the most recently registered one with results in that run.';
comment on column main.classifier_versions.classifier is 'Classifier name (eval_awareness, grader_seeking, ...).';
comment on column main.classifier_versions.run is 'Training run scored with this version.';
comment on column main.classifier_versions.version is 'Version string of the trained artifact.';
comment on column main.classifier_versions.threshold is 'A sentence is flagged when its score is at least this.';
comment on column main.classifier_versions.embedding_model is 'Sentence-embedding model the classifier was trained on.';
comment on column main.classifier_versions.artifact_sha256 is 'SHA-256 of the .skops artifact file.';
comment on column main.classifier_versions.registered_at is 'When the version was first used on this store.';
comment on column main.classifier_versions.card is 'The artifact''s model card (JSON): training data, metrics, thresholds.';

comment on view main.sentence_scores is 'One row per reasoning sentence scored by a classifier (latest version per classifier and run). Sentences the cascade''s first stage stopped score 0.';
comment on column main.sentence_scores.transcript_id is 'Transcript id (unique within run).';
comment on column main.sentence_scores.run is 'Training run.';
comment on column main.sentence_scores.step is 'Checkpoint step.';
comment on column main.sentence_scores.classifier is 'Classifier name (eval_awareness, grader_seeking, ...).';
comment on column main.sentence_scores.sentence is 'The sentence text, cut from its reasoning segment.';
comment on column main.sentence_scores.score is 'Calibrated probability that the sentence shows the trait (0 when stopped by the first stage).';
comment on column main.sentence_scores.flagged is 'score >= the classifier version''s threshold.';
comment on column main.sentence_scores.environment is 'RL environment; NULL when unknown.';
comment on column main.sentence_scores.ordinal is 'Segment the sentence is in (reasoning.ordinal).';
comment on column main.sentence_scores.sentence_index is 'Position of the sentence within its segment, from 0.';

comment on view main.transcript_flags is 'One row per transcript scored by a classifier (latest version per classifier and run): its highest sentence score and whether any sentence was flagged.';
comment on column main.transcript_flags.transcript_id is 'Transcript id (unique within run).';
comment on column main.transcript_flags.run is 'Training run.';
comment on column main.transcript_flags.step is 'Checkpoint step.';
comment on column main.transcript_flags.environment is 'RL environment; NULL when unknown.';
comment on column main.transcript_flags.classifier is 'Classifier name (eval_awareness, grader_seeking, ...).';
comment on column main.transcript_flags.max_score is 'Highest sentence score in the transcript''s reasoning; NULL when it has no reasoning sentence.';
comment on column main.transcript_flags.flagged is 'True when any sentence is flagged. A raw rate of flags is not the prevalence: `cotwatch awareness` corrects it for classifier error.';
comment on column main.transcript_flags.sentences is 'Reasoning sentences scored.';
comment on column main.transcript_flags.flagged_sentences is 'Sentences flagged.';

-- ---------------------------------------------------------------------------------------------
-- api.*: aliases kept for queries written against 0004/0005 (`api.transcripts` still works)
-- ---------------------------------------------------------------------------------------------
create view api.transcripts as select * from main.transcripts;
create view api.reasoning as select * from main.reasoning;
create view api.term_counts as select * from main.term_counts;
create view api.step_totals as select * from main.step_totals;
create view api.transcript_terms as select * from main.transcript_terms;
create view api.transcript_tokens as select * from main.transcript_tokens;
create view api.rejects as select * from main.rejects;
create view api.classifier_versions as select * from main.classifier_versions;
create view api.sentence_scores as select * from main.sentence_scores;
create view api.transcript_flags as select * from main.transcript_flags;

comment on view api.transcripts is 'Alias of transcripts (main.transcripts), kept for queries written before migration 0008; new queries use the bare name.';
comment on view api.reasoning is 'Alias of reasoning (main.reasoning), kept for queries written before migration 0008; new queries use the bare name.';
comment on view api.term_counts is 'Alias of term_counts (main.term_counts), kept for queries written before migration 0008; new queries use the bare name.';
comment on view api.step_totals is 'Alias of step_totals (main.step_totals), kept for queries written before migration 0008; new queries use the bare name.';
comment on view api.transcript_terms is 'Alias of transcript_terms (main.transcript_terms), kept for queries written before migration 0008; new queries use the bare name.';
comment on view api.transcript_tokens is 'Alias of transcript_tokens (main.transcript_tokens), kept for queries written before migration 0008; new queries use the bare name.';
comment on view api.rejects is 'Alias of rejects (main.rejects), kept for queries written before migration 0008; new queries use the bare name.';
comment on view api.classifier_versions is 'Alias of classifier_versions (main.classifier_versions), kept for queries written before migration 0008; new queries use the bare name.';
comment on view api.sentence_scores is 'Alias of sentence_scores (main.sentence_scores), kept for queries written before migration 0008; new queries use the bare name.';
comment on view api.transcript_flags is 'Alias of transcript_flags (main.transcript_flags), kept for queries written before migration 0008; new queries use the bare name.';
