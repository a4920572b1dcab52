-- viewer_step_flags: per step of run $run, transcripts scored and flagged by classifier version
-- $classifier_id (raw flags, not the corrected prevalence).
select t.step, count(*) as scored, count(*) filter (where c.flagged) as flagged
from classifier_transcripts c
join transcripts t on t.pk = c.transcript_pk
where c.classifier_id = $classifier_id and t.run = $run
group by t.step
order by t.step;
