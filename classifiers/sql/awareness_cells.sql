-- awareness_cells: scored transcripts of run $run for classifier version $classifier_id, counted
-- per (step, environment, covert, n_candidates, flagged) cell — the unit the prevalence bootstrap
-- resamples. covert is 1/0, or -1 when covert_action is null.
select
    t.run,
    t.step,
    t.environment,
    case when t.covert_action is null then -1 when t.covert_action then 1 else 0 end::tinyint as covert,
    c.n_candidates,
    c.flagged,
    count(*) as n
from classifier_transcripts c
join transcripts t on t.pk = c.transcript_pk
where c.classifier_id = $classifier_id
  and t.run = $run
group by all
order by t.step, t.environment, covert, c.n_candidates, c.flagged
