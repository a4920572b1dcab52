-- Two runs side by side per checkpoint: transcripts, mean reasoning tokens, covert-action rate and mean score.
-- $run_a: the first run
-- $run_b: the second run
with per_step as (
    select
        t.run,
        t.step,
        count(*)                          as transcripts,
        avg(k.tokens)                     as mean_tokens,
        avg(t.covert_action::int)         as covert_rate,
        avg(t.score)                      as mean_score
    from transcripts t
    left join transcript_tokens k on k.run = t.run and k.transcript_id = t.transcript_id
    where t.run in ($run_a, $run_b)
    group by t.run, t.step
),
a as (select * from per_step where run = $run_a),
b as (select * from per_step where run = $run_b)
select
    coalesce(a.step, b.step)              as step,
    coalesce(a.transcripts, 0)            as transcripts_a,
    coalesce(b.transcripts, 0)            as transcripts_b,
    round(a.mean_tokens, 2)               as mean_tokens_a,
    round(b.mean_tokens, 2)               as mean_tokens_b,
    round(a.covert_rate, 4)               as covert_rate_a,
    round(b.covert_rate, 4)               as covert_rate_b,
    round(a.mean_score, 4)                as mean_score_a,
    round(b.mean_score, 4)                as mean_score_b
from a
full outer join b on a.step = b.step
order by step;
