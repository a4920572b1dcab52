-- jobs_missing: transcripts of the job (_job_pick) not in the store yet, by the shard file they
-- are read from: (source, run, transcript_id).
select p.source, p.run, p.transcript_id
from _job_pick p
where not exists (select 1 from transcripts t where t.run = p.run and t.id = p.transcript_id)
order by p.source, p.run, p.transcript_id;
