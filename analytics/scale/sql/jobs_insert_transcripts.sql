-- jobs_insert_transcripts: insert the transcripts of one shard file that the store lacks, with
-- their segments, as the ingest would: pk = max(pk) + 1..., ordinals renumbered 0..n-1 in ordinal
-- order, runs and checkpoints registered, one `ingested_files` row (format 'parquet').
-- Inputs: _shard_rows (conformed shard rows of $source, metadata normalised) and _job_pick
-- (content_hash per (run, transcript_id), conflicts already refused). Returns (added).
create or replace temp table _job_new as
select
    s.*,
    p.content_hash,
    (select coalesce(max(pk), 0) from transcripts) + row_number() over (order by s.run, s.transcript_id) as pk
from _shard_rows s
join _job_pick p on p.run = s.run and p.transcript_id = s.transcript_id and p.source = $source
where not exists (select 1 from transcripts t where t.run = s.run and t.id = s.transcript_id);

insert into runs (run)
select distinct run from _job_new
where run not in (select run from runs);

insert into checkpoints (run, step)
select distinct n.run, n.step from _job_new n
where not exists (select 1 from checkpoints c where c.run = n.run and c.step = n.step);

insert into transcripts (pk, id, run, step, environment, epoch, source_file, source_line,
                         source_entry, content_hash, covert_action, score, metadata)
select pk, transcript_id, run, step, environment, epoch, $source, null, null,
       content_hash, covert_action, score, cast(metadata as json)
from _job_new
order by pk;

insert into segments (transcript_pk, ordinal, role, kind, text, redacted)
select pk, ordinal, seg.role, seg.kind, seg.text, coalesce(seg.redacted, false)
from (
    select pk, unnest(segs) as seg, generate_subscripts(segs, 1) - 1 as ordinal
    from (select pk, list_sort(segments) as segs from _job_new)
)
order by pk, ordinal;

insert into ingested_files (file, format, added, duplicates, rejected)
select $source, 'parquet', count(*), 0, 0 from _job_new;

select count(*) from _job_new;
