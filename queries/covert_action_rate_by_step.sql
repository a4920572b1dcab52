-- Covert-action rate and mean score per checkpoint and environment (only transcripts whose covert_action is known count in the rate).
-- $run = null: only this run (null: every run)
select
    run,
    step,
    environment,
    count(*)                                                        as transcripts,
    count(covert_action)                                            as labelled,
    count(*) filter (where covert_action)                           as covert,
    round(avg(covert_action::int), 4)                               as covert_rate,
    round(avg(score), 4)                                            as mean_score
from transcripts
where $run is null or run = $run
group by run, step, environment
order by run, step, environment nulls last;
