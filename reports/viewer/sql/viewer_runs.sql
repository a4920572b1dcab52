-- viewer_runs: one row per run: transcripts, steps, environments, first and last step, reasoning
-- tokens (from the materialized per-cell counts) and when it was last ingested. Runs without
-- transcripts are listed too (0 transcripts).
with t as (
    select run, count(*) as transcripts, count(distinct step) as steps,
           count(distinct environment) as environments, min(step) as first_step, max(step) as last_step,
           max(ingested_at) as last_ingested
    from transcripts
    group by run
), tok as (
    select run, sum(tokens)::bigint as reasoning_tokens
    from step_token_counts
    where scope = 'reasoning'
    group by run
)
select r.run, coalesce(t.transcripts, 0) as transcripts, coalesce(t.steps, 0) as steps,
       coalesce(t.environments, 0) as environments, t.first_step, t.last_step,
       coalesce(tok.reasoning_tokens, 0) as reasoning_tokens, t.last_ingested
from runs r
left join t on t.run = r.run
left join tok on tok.run = r.run
order by r.run;
