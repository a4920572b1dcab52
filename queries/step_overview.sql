-- One row per run and checkpoint: transcripts, environments, reasoning tokens (total and mean), covert-action rate, mean score.
-- $run = null: only this run (null: every run)
select
    t.run,
    t.step,
    count(*)                                  as transcripts,
    count(distinct t.environment)             as environments,
    coalesce(sum(k.tokens), 0)::bigint        as reasoning_tokens,
    round(avg(k.tokens), 2)                   as mean_reasoning_tokens,
    round(avg(t.covert_action::int), 4)       as covert_rate,
    round(avg(t.score), 4)                    as mean_score
from transcripts t
left join transcript_tokens k on k.run = t.run and k.transcript_id = t.transcript_id
where $run is null or t.run = $run
group by t.run, t.step
order by t.run, t.step;
