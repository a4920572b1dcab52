-- ingest_stage_create: fresh staging tables for the file being ingested. They are committed
-- batch by batch (so DuckDB can write them to disk and memory stays flat) but nothing reads them
-- except ingest; a crash leaves them behind and the next ingest drops them here.
drop table if exists _ingest_stage_t;
drop table if exists _ingest_stage_s;
create table _ingest_stage_t (
    pk bigint, id varchar, run varchar, step bigint, environment varchar, epoch integer,
    source_file varchar, source_line bigint, source_entry varchar, content_hash varchar,
    covert_action boolean, score double, metadata varchar);
create table _ingest_stage_s (
    transcript_pk bigint, ordinal integer, role varchar, kind varchar, text varchar, redacted boolean);
