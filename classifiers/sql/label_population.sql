-- label_population: transcripts of run $run (every run when null) scored by classifier version
-- $classifier_id, the population a labelling sample is drawn from. Returns pk, run, step,
-- environment, transcript_id, flagged, transcript_score, in pk order (the sample is reproducible).
select t.pk, t.run, t.step, t.environment, t.id as transcript_id, c.flagged, c.transcript_score
from classifier_transcripts c
join transcripts t on t.pk = c.transcript_pk
where c.classifier_id = $classifier_id
  and ($run is null or t.run = $run)
order by t.pk
