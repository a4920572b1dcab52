-- jobs_conflicts: transcripts of the job (_job_pick) whose content differs between its shards or
-- from the stored transcript with the same (run, id); (source, run, transcript_id, reason).
select source, run, transcript_id, 'has different content in two shards of this job' as reason
from _job_pick
where hashes > 1
union all
select p.source, p.run, p.transcript_id, 'is already stored with different content' as reason
from _job_pick p
join transcripts t on t.run = p.run and t.id = p.transcript_id
where p.hashes = 1 and t.content_hash <> p.content_hash
order by source, run, transcript_id
limit 20;
