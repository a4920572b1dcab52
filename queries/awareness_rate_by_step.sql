-- Share of transcripts with a flagged sentence, per checkpoint and environment (raw classifier flags; `cotwatch awareness` gives the error-corrected prevalence).
-- $classifier = 'eval_awareness': classifier name
-- $run = null: only this run (null: every run)
select
    run,
    step,
    environment,
    count(*)                                   as transcripts,
    count(*) filter (where flagged)            as flagged,
    round(avg(flagged::int), 4)                as flagged_rate,
    round(avg(max_score), 4)                   as mean_max_score
from transcript_flags
where classifier = $classifier
  and ($run is null or run = $run)
group by run, step, environment
order by run, step, environment nulls last;
