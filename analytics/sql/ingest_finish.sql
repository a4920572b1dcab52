-- ingest_finish: drop the file's duplicates and rejected records (pk > $start_pk), register
-- new runs and checkpoints; returns (added, duplicates). Runs after ingest_conflicts.
create or replace temp table _drop as
select n.pk, (b.pk is null) as duplicate
from _new_keys n
left join _bad b using (pk)
where b.pk is not null
   or n.pk <> n.first_pk
   or n.pk in (select pk from _old_match);

delete from segments
where transcript_pk > $start_pk and transcript_pk in (select pk from _drop);

delete from transcripts
where pk > $start_pk and pk in (select pk from _drop);

insert into runs (run)
select distinct run from _new_keys
where pk not in (select pk from _drop) and run not in (select run from runs);

insert into checkpoints (run, step)
select distinct t.run, t.step
from transcripts t
where t.pk > $start_pk
  and not exists (select 1 from checkpoints c where c.run = t.run and c.step = t.step);

select
    (select count(*) from _new_keys) - (select count(*) from _drop) as added,
    (select count(*) from _drop where duplicate) as duplicates;

