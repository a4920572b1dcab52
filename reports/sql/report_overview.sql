-- report_overview: transcripts and reasoning tokens per run, step and environment, for the
-- overview chart and the per-environment breakdown.
-- Parameters: $runs (VARCHAR[]) — the runs in the report.
-- Returns: run, step, environment, transcripts, reasoning_tokens, covert_labelled, covert_actions,
--          scored, score_sum
with t as (
    select
        run,
        step,
        environment,
        count(*)::bigint                                  as transcripts,
        count(covert_action)::bigint                      as covert_labelled,
        count(*) filter (where covert_action)::bigint     as covert_actions,
        count(score)::bigint                              as scored,
        sum(score)::double                                as score_sum
    from main.transcripts
    where list_contains($runs, run)
    group by run, step, environment
),
s as (
    select run, step, environment, sum(tokens)::bigint as tokens
    from main.step_totals
    where list_contains($runs, run)
    group by run, step, environment
)
select
    t.run,
    t.step,
    t.environment,
    t.transcripts,
    coalesce(s.tokens, 0)::bigint as reasoning_tokens,
    t.covert_labelled,
    t.covert_actions,
    t.scored,
    t.score_sum
from t
left join s on s.run = t.run and s.step = t.step and s.environment is not distinct from t.environment
order by t.run, t.step, t.environment;
