-- viewer_steps: per step of run $run: transcripts, environments (count and names), reasoning
-- tokens (materialized counts), labelled covert actions and their rate, mean score.
with t as (
    select step, count(*) as transcripts, count(distinct environment) as environments,
           list_sort(list(distinct coalesce(environment, '(none)'))) as environment_names,
           count(covert_action) as labelled, count(*) filter (where covert_action) as covert,
           avg(score) as mean_score
    from transcripts
    where run = $run
    group by step
), tok as (
    select step, sum(tokens)::bigint as reasoning_tokens
    from step_token_counts
    where run = $run and scope = 'reasoning'
    group by step
)
select t.step, t.transcripts, t.environments, t.environment_names,
       coalesce(tok.reasoning_tokens, 0) as reasoning_tokens,
       t.labelled, t.covert, t.mean_score
from t
left join tok on tok.step = t.step
order by t.step;
