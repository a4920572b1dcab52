-- ingest_stage_create: fresh staging tables for the file being ingested. They are TEMP tables:
-- no WAL, no fsync per batch, spilled to DuckDB's temp directory beyond memory_limit (so memory
-- stays flat), and gone with the connection if the process dies. The store itself changes only
-- in ingest_finish's single transaction.
drop table if exists _ingest_stage_t;
drop table if exists _ingest_stage_s;
create temp table _ingest_stage_t (
    pk bigint, id varchar, run varchar, step bigint, environment varchar, epoch integer,
    source_file varchar, source_line bigint, source_entry varchar, content_hash varchar,
    covert_action boolean, score double, metadata varchar);
create temp table _ingest_stage_s (
    transcript_pk bigint, ordinal integer, role varchar, kind varchar, text varchar, redacted boolean);
