-- ingest_commit: move the staged file's new records into the store; returns (added, duplicates).
-- New = first occurrence of its (run, id) in the file, not rejected, not already stored.
create or replace temp table _stage_new as
select
    t.*,
    row_number() over (order by t.seq) + (select coalesce(max(pk), 0) from transcripts) as pk
from _stage_t t
where t.seq not in (select seq from _stage_bad)
  and t.seq in (select min(seq) from _stage_t group by run, id)
  and not exists (select 1 from transcripts x where x.run = t.run and x.id = t.id);

insert into runs (run)
select distinct run from _stage_new
where run not in (select run from runs);

insert into checkpoints (run, step)
select distinct n.run, n.step from _stage_new n
where not exists (select 1 from checkpoints c where c.run = n.run and c.step = n.step);

insert into transcripts (pk, id, run, step, environment, epoch, source_file, source_line,
                         source_entry, content_hash, covert_action, score, metadata)
select pk, id, run, step, environment, epoch, source_file, source_line, source_entry,
       content_hash, covert_action, score, cast(metadata as json)
from _stage_new
order by pk;

insert into segments (transcript_pk, ordinal, role, kind, text, redacted)
select n.pk, s.ordinal, s.role, s.kind, s.text, s.redacted
from _stage_s s
join _stage_new n using (seq)
order by n.pk, s.ordinal;

select
    (select count(*) from _stage_new) as added,
    (select count(*) from _stage_t) - (select count(*) from _stage_new) - (select count(*) from _stage_bad) as duplicates;
