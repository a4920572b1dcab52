-- shard_scores_todo: the shard job's transcripts (_job_pick) whose scores the merge stores: in
-- the store and without results for $classifier_id yet. Creates _job_todo(run, transcript_id,
-- part, pk).
create or replace temp table _job_todo as
select p.run, p.transcript_id, p.part, t.pk
from _job_pick p
join transcripts t on t.run = p.run and t.id = p.transcript_id
where not exists (
    select 1 from classifier_transcripts c
    where c.classifier_id = $classifier_id and c.transcript_pk = t.pk
)
