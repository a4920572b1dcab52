-- 0009_content_hash_sql: a record's content hash is computed in SQL from now on (defined once in
-- analytics/ingest/sql/ingest_hash_macros.sql), so that records the compiled JSONL path stores and
-- records parsed in Python hash alike. Every stored transcript gets the new hash of its stored
-- columns and segments, and an id derived from the old hash ("h:" + its first 16 hex digits, given
-- to records without an id) is derived from the new one, so re-ingesting a file stays a no-op.
-- The expressions below are a frozen copy of those macros at this version.
create or replace temp macro m0009_field(x) as coalesce(strlen(x)::varchar || ':' || x, '-');

create or replace temp macro m0009_segment(kind, role, redacted, text) as
    md5(m0009_field(kind) || m0009_field(role) || m0009_field(redacted::varchar) || md5(text));

create or replace temp macro m0009_record(run, step, environment, epoch, covert_action, score, metadata, digests) as
    md5(m0009_field(run) || m0009_field(step::varchar) || m0009_field(environment) || m0009_field(epoch::varchar)
        || m0009_field(covert_action::varchar) || m0009_field(printf('%.17g', score)) || m0009_field(metadata)
        || '|' || coalesce(digests, ''));

create or replace temp table m0009_hashes as
select t.pk,
       m0009_record(t.run, t.step, t.environment, t.epoch, t.covert_action, t.score, t.metadata::varchar, d.digests)
           as content_hash
from transcripts t
left join (
    select transcript_pk, string_agg(m0009_segment(kind, role, redacted, text), '' order by ordinal) as digests
    from segments
    group by transcript_pk
) d on d.transcript_pk = t.pk;

update transcripts
set id = case when transcripts.id = 'h:' || left(transcripts.content_hash, 16) then 'h:' || left(h.content_hash, 16)
              else transcripts.id end,
    content_hash = h.content_hash
from m0009_hashes h
where transcripts.pk = h.pk;

drop table m0009_hashes;
drop macro m0009_record;
drop macro m0009_segment;
drop macro m0009_field;
