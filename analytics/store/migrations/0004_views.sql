-- 0004_views: the public SQL API — stable views in the schema `api` (documented in docs/sql.md).
--
-- Internal tables (main.transcripts, main.segments, main.doc_terms, ...) may change; these views
-- are the contract, and later migrations keep them answering with the same names and columns.
-- Why a separate schema: the internal table `main.transcripts` already has the public name.
-- `cotwatch sql`, `cotwatch query` and `analytics.sqlapi.open_sql` set `search_path = 'api,main'`,
-- so `select * from transcripts` there means `api.transcripts`; in a plain duckdb shell, write
-- `api.transcripts` or run `set search_path = 'api,main'` first.
-- View bodies name `main.` explicitly so they resolve the same under any search path or alias.
-- Term views count the reasoning scope (reasoning + reasoning_summary segments) with the token
-- contract of analytics/tokens.py, from the counts materialized at ingest (0002_terms, described
-- in docs/terms.md); the step tables may hold partial rows before compaction, hence the sums.
create schema if not exists api;

create or replace view api.transcripts as
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
from main.transcripts t;

create or replace view api.reasoning as
select
    t.id as transcript_id,
    t.run,
    t.step,
    t.environment,
    s.ordinal,
    s.kind,
    s.text
from main.segments s
join main.transcripts t on t.pk = s.transcript_pk
where s.kind in ('reasoning', 'reasoning_summary');

create or replace view api.term_counts as
select
    run,
    step,
    environment,
    term,
    sum(occurrences)::bigint    as occurrences,
    sum(docs_with_term)::bigint as docs_with_term
from main.step_term_counts
where scope = 'reasoning'
group by run, step, environment, term;

create or replace view api.step_totals as
select
    run,
    step,
    environment,
    sum(tokens)::bigint as tokens,
    sum(docs)::bigint   as docs
from main.step_token_counts
where scope = 'reasoning'
group by run, step, environment;

create or replace view api.transcript_terms as
select
    t.id as transcript_id,
    t.run,
    t.step,
    t.environment,
    d.term,
    d.n::bigint as occurrences
from main.doc_terms d
join main.transcripts t on t.pk = d.transcript_pk
where d.scope = 'reasoning';

create or replace view api.transcript_tokens as
select
    t.id as transcript_id,
    t.run,
    t.step,
    t.environment,
    d.tokens::bigint as tokens
from main.doc_tokens d
join main.transcripts t on t.pk = d.transcript_pk
where d.scope = 'reasoning';

create or replace view api.rejects as
select file, line, entry, reason, rejected_at
from main.rejects;

comment on view api.transcripts is 'One row per stored transcript (a rollout at one checkpoint). (run, transcript_id) is unique.';
comment on column api.transcripts.transcript_id is 'The record''s id; unique within its run.';
comment on column api.transcripts.run is 'Training run the transcript belongs to.';
comment on column api.transcripts.step is 'Checkpoint (training step) the transcript was sampled at.';
comment on column api.transcripts.environment is 'RL environment / task; NULL when the source did not say.';
comment on column api.transcripts.epoch is 'Sample epoch within the checkpoint''s evaluation; NULL when unknown.';
comment on column api.transcripts.covert_action is 'True when the environment recorded a covert (rule-breaking) action; NULL when unknown.';
comment on column api.transcripts.score is 'Reward or score the environment gave; NULL when unknown.';
comment on column api.transcripts.source is 'Where the record came from: file:line for JSONL, file [entry] for Inspect logs and text files.';
comment on column api.transcripts.metadata is 'The record''s metadata object as JSON (NULL when absent).';

comment on view api.reasoning is 'Reasoning segments of every transcript, in order: kind reasoning or reasoning_summary. Redacted reasoning has empty text.';
comment on column api.reasoning.transcript_id is 'Transcript the segment belongs to (join with transcripts on run and transcript_id).';
comment on column api.reasoning.run is 'Training run.';
comment on column api.reasoning.step is 'Checkpoint step.';
comment on column api.reasoning.environment is 'RL environment; NULL when unknown.';
comment on column api.reasoning.ordinal is 'Position of the segment within its transcript (0-based, over all segments, so gaps are non-reasoning segments).';
comment on column api.reasoning.kind is 'reasoning (the chain of thought) or reasoning_summary (a provider''s summary of it).';
comment on column api.reasoning.text is 'The segment text, verbatim (empty when the provider redacted it).';

comment on view api.term_counts is 'Term counts in reasoning (reasoning + summaries) per run, step and environment, under the token contract. Only terms that occur have rows.';
comment on column api.term_counts.run is 'Training run.';
comment on column api.term_counts.step is 'Checkpoint step.';
comment on column api.term_counts.environment is 'RL environment; NULL when unknown.';
comment on column api.term_counts.term is 'A token: lowercased letters/digits joined by inner apostrophes (analytics/tokens.py).';
comment on column api.term_counts.occurrences is 'How many times the term occurs in the reasoning of these transcripts.';
comment on column api.term_counts.docs_with_term is 'How many of these transcripts use the term at least once.';

comment on view api.step_totals is 'Denominators for term_counts: reasoning tokens and counted transcripts per run, step and environment.';
comment on column api.step_totals.run is 'Training run.';
comment on column api.step_totals.step is 'Checkpoint step.';
comment on column api.step_totals.environment is 'RL environment; NULL when unknown.';
comment on column api.step_totals.tokens is 'Reasoning tokens (token contract) in these transcripts.';
comment on column api.step_totals.docs is 'Transcripts with at least one reasoning token (the denominator of docs_with_term). Transcripts ingested with --defer-terms are missing until `cotwatch terms materialize`.';

comment on view api.transcript_terms is 'Per-transcript term counts in reasoning (the rows behind term_counts).';
comment on column api.transcript_terms.transcript_id is 'Transcript id (unique within run).';
comment on column api.transcript_terms.run is 'Training run.';
comment on column api.transcript_terms.step is 'Checkpoint step.';
comment on column api.transcript_terms.environment is 'RL environment; NULL when unknown.';
comment on column api.transcript_terms.term is 'A token under the token contract.';
comment on column api.transcript_terms.occurrences is 'How many times the term occurs in this transcript''s reasoning (at least 1).';

comment on view api.transcript_tokens is 'Reasoning length in tokens per transcript (the rows behind step_totals).';
comment on column api.transcript_tokens.transcript_id is 'Transcript id (unique within run).';
comment on column api.transcript_tokens.run is 'Training run.';
comment on column api.transcript_tokens.step is 'Checkpoint step.';
comment on column api.transcript_tokens.environment is 'RL environment; NULL when unknown.';
comment on column api.transcript_tokens.tokens is 'Reasoning tokens (token contract); 0 when the transcript has no reasoning.';

comment on view api.rejects is 'Records that ingest --skip-bad left out, with the reason.';
comment on column api.rejects.file is 'Input file.';
comment on column api.rejects.line is 'Line number for JSONL input; NULL otherwise.';
comment on column api.rejects.entry is 'Sample / entry name for Inspect logs and text files; NULL for JSONL.';
comment on column api.rejects.reason is 'Why the record was rejected.';
comment on column api.rejects.rejected_at is 'When it was rejected (timestamp of the ingest).';
