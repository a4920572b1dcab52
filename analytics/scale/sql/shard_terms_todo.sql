-- shard_terms_todo: the job's transcripts whose term counts the merge stores: in the store, not
-- counted yet. Creates _job_todo(run, transcript_id, part, pk).
create or replace temp table _job_todo as
select p.run, p.transcript_id, p.part, t.pk
from _job_pick p
join transcripts t on t.run = p.run and t.id = p.transcript_id
where not exists (select 1 from doc_tokens d where d.transcript_pk = t.pk);
