-- flagged_for_export: transcripts of run $run scored by classifier version $classifier_id, with
-- their flag, for `export counterfactual`. $flagged selects flagged (true) or unflagged (false)
-- transcripts; $environment (or null) restricts to one environment.
select t.pk, t.id, t.run, t.step, t.environment, t.epoch, t.covert_action, c.max_score
from classifier_transcripts c
join transcripts t on t.pk = c.transcript_pk
where c.classifier_id = $classifier_id
  and t.run = $run
  and c.flagged = $flagged
  and ($environment is null or t.environment = $environment)
  and c.n_sentences > 0
order by t.pk
