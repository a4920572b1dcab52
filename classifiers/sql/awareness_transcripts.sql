-- awareness_transcripts: every transcript of run $run scored by classifier version $classifier_id,
-- whether it had reasoning to score (`observed`: one without is not an unaware transcript, it is
-- no observation), the transcript decision and, when the user labelled it in a uniform random sample
-- (label export --transcripts), its human label for classifier $classifier (else NULL).
-- Returns observed, step, environment, covert_action, flagged, transcript_score, label.
select
    c.n_sentences > 0 as observed,
    t.step,
    t.environment,
    t.covert_action,
    c.flagged,
    c.transcript_score,
    l.label
from classifier_transcripts c
join transcripts t on t.pk = c.transcript_pk
left join transcript_labels l
    on l.transcript_pk = c.transcript_pk
   and l.classifier = $classifier
   and l.sample in (select sample from label_samples where design = 'uniform')
where c.classifier_id = $classifier_id
  and t.run = $run
order by t.step, t.environment, t.pk
