-- ingest_finish: move the staged file into the store (inside one transaction), leaving out
-- duplicates and rejected records; registers new runs and checkpoints; returns
-- (added, duplicates). Runs after ingest_conflicts. Staging is appended in pk order and DuckDB
-- preserves insertion order, so no ORDER BY (sorting the text would cost more than the copy).
create or replace temp table _keep as
select n.pk, n.run
from _new_keys n
where n.pk = n.first_pk
  and n.pk not in (select pk from _bad)
  and n.pk not in (select pk from _old_match);

insert into transcripts (pk, id, run, step, environment, epoch, source_file, source_line,
                         source_entry, content_hash, covert_action, score, metadata)
select pk, id, run, step, environment, epoch, source_file, source_line, source_entry,
       content_hash, covert_action, score, cast(metadata as json)
from _ingest_stage_t
where pk in (select pk from _keep);

insert into segments (transcript_pk, ordinal, role, kind, text, redacted)
select transcript_pk, ordinal, role, kind, text, redacted
from _ingest_stage_s
where transcript_pk in (select pk from _keep);

insert into runs (run)
select distinct run from _keep
where run not in (select run from runs);

insert into checkpoints (run, step)
select distinct t.run, t.step
from _ingest_stage_t t
where t.pk in (select pk from _keep)
  and not exists (select 1 from checkpoints c where c.run = t.run and c.step = t.step);

select
    (select count(*) from _keep) as added,
    (select count(*) from _new_keys) - (select count(*) from _keep) - (select count(*) from _bad) as duplicates;
