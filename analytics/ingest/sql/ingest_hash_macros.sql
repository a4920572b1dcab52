-- ingest_hash_macros: the content hash of a record, defined once (temp macros on the connection
-- that stages records; records.content_hashes runs them in an in-memory DuckDB for the shard jobs).
-- Every field is written with its length (`cw_field`: "<bytes>:<text>", "-" for null) so that no
-- two different records serialize alike. A segment's digest covers its kind, role, redaction and
-- the md5 of its text; the record's digest covers run, step, environment, epoch, covert_action,
-- score (printf %.17g: exact and independent of DuckDB's float formatting), the canonical metadata
-- text and its segments' digests in ordinal order. A segment's text enters as its md5 (hex), which
-- the caller may compute elsewhere (the compiled JSONL path does, with hashlib, while DuckDB stores
-- the previous chunk): md5 is md5. Migration 0009 moved older stores to this hash.
create or replace temp macro cw_field(x) as coalesce(strlen(x)::varchar || ':' || x, '-');

create or replace temp macro cw_segment_digest(kind, role, redacted, text_md5) as
    md5(cw_field(kind) || cw_field(role) || cw_field(redacted::varchar) || text_md5);

create or replace temp macro cw_record_digest(run, step, environment, epoch, covert_action, score, metadata, digests) as
    md5(cw_field(run) || cw_field(step::varchar) || cw_field(environment) || cw_field(epoch::varchar)
        || cw_field(covert_action::varchar) || cw_field(printf('%.17g', score)) || cw_field(metadata)
        || '|' || coalesce(digests, ''));
