-- ingest_chunk_create: empty staging tables for one chunk of a file: _ct (transcripts: pk is a
-- file-local key — the line number, or the record's position — the store's pk is the file's base
-- + this key; meta_raw is metadata JSON still to be made canonical; digests and has_text are
-- filled by the SQL path for plain records, whose segments are not staged) and _cs (segments).
create or replace temp table _ct (
    pk bigint, line bigint, entry varchar, id varchar, run varchar, step bigint, environment varchar,
    epoch integer, covert_action boolean, score double, metadata varchar, meta_raw varchar, meta_extra varchar,
    digests varchar, has_text boolean);
create or replace temp table _cs (
    pk bigint, ordinal integer, role varchar, kind varchar, text varchar, redacted boolean);
