-- 0014_scout_results: results of Inspect Scout scans (`cotwatch ingest` of a scan's Parquet files,
-- docs/inspect.md), so that an LLM scanner's verdicts can be compared with cotwatch's own in SQL,
-- per run and step.
--
-- One row per Scout result: a scanner that returned a list of results (a "resultset") gives one
-- row per item. `transcript_id` is the id cotwatch gives the scanned transcript when it ingests
-- it (from the Inspect log or from a Scout transcript database: `eval_id/sample_id/epoch`
-- for Inspect transcripts, Scout's transcript id otherwise), so results join the store's
-- transcripts without knowing how they were ingested.
create table internal.scout_results (
    result_id               varchar not null primary key,  -- Scout's result uuid
    scan_id                 varchar not null,
    scanner                 varchar not null,
    scanner_version         bigint,
    scanner_package_version varchar,
    scanner_params          json,
    scout_transcript_id     varchar not null,
    transcript_id           varchar not null,
    source_type             varchar,
    task_set                varchar,
    label                   varchar,
    value                   varchar,
    value_type              varchar,
    value_number            double,
    answer                  varchar,
    explanation             varchar,
    metadata                json,
    result_references       json,
    scan_error              varchar,
    scan_total_tokens       bigint,
    scanned_at              varchar,
    source_file             varchar not null,
    ingested_at             timestamp default current_timestamp
);

create view main.scout_results as
select
    t.run,
    t.step,
    t.environment,
    r.transcript_id,
    r.scout_transcript_id,
    r.scan_id,
    r.scanner,
    r.label,
    r.value,
    r.value_type,
    r.value_number,
    r.answer,
    r.explanation,
    r.metadata,
    r.scan_error
from internal.scout_results r
left join internal.transcripts t on t.id = r.transcript_id;

comment on view main.scout_results is 'One row per result of an Inspect Scout scan ingested with `cotwatch ingest` (docs/inspect.md), with the run, step and environment of the scanned transcript when the store holds it (one row per run that does).';
comment on column main.scout_results.run is 'Training run of the scanned transcript; NULL when the store does not hold it.';
comment on column main.scout_results.step is 'Checkpoint step of the scanned transcript; NULL when the store does not hold it.';
comment on column main.scout_results.environment is 'RL environment of the scanned transcript; NULL when unknown or not stored.';
comment on column main.scout_results.transcript_id is 'The id cotwatch gives the scanned transcript (joins transcripts.transcript_id): `eval_id/sample_id/epoch` for transcripts from Inspect logs, else Scout''s transcript id.';
comment on column main.scout_results.scout_transcript_id is 'Scout''s own transcript id (for Inspect logs: the sample uuid).';
comment on column main.scout_results.scan_id is 'Scout scan id.';
comment on column main.scout_results.scanner is 'Scanner name (e.g. eval_awareness, or an llm_scanner''s name).';
comment on column main.scout_results.label is 'Result label (one per item of a scanner returning several results, e.g. a watchlist term); NULL for a single result.';
comment on column main.scout_results.value is 'The result value as Scout stores it (true/false, a number, a string, or JSON).';
comment on column main.scout_results.value_type is 'Type of value: boolean, number, string, array, object or null.';
comment on column main.scout_results.value_number is 'The value as a number: 1/0 for booleans, the number for numbers, else NULL (average it for a rate).';
comment on column main.scout_results.answer is 'Answer the scanner extracted (LLM scanners); NULL when none.';
comment on column main.scout_results.explanation is 'The scanner''s explanation (cotwatch scanners: flagged sentences or keyword-in-context lines, each citing its message as `[Mn]`).';
comment on column main.scout_results.metadata is 'The result''s metadata (JSON; cotwatch scanners: scores, counts, artifact version).';
comment on column main.scout_results.scan_error is 'Error of a scan that failed on this transcript; NULL on success.';
