-- ingest_file_finish: register the runs and checkpoints of the transcripts this file stored
-- (pk > $base) and its ledger row (the caller adds rejects and commits).
insert into runs (run)
select distinct run from transcripts
where pk > $base and run not in (select run from runs);

insert into checkpoints (run, step)
select distinct t.run, t.step
from transcripts t
where t.pk > $base
  and not exists (select 1 from checkpoints c where c.run = t.run and c.step = t.step);

insert into ingested_files (file, format, added, duplicates, rejected)
values ($file, $format, $added, $duplicates, $rejected);
