-- Vocabulary size, hapax terms and type/token ratio of reasoning per checkpoint (all environments pooled; TTR falls as samples grow, so compare equal-sized steps).
-- $run = null: only this run (null: every run, each on its own rows)
with per_term as (
    select run, step, term, sum(occurrences) as occurrences
    from term_counts
    where $run is null or run = $run
    group by run, step, term
),
vocab as (
    select run, step, count(*) as vocabulary, count(*) filter (where occurrences = 1) as hapax
    from per_term
    group by run, step
),
totals as (
    select run, step, sum(tokens) as tokens, sum(docs) as docs
    from step_totals
    where $run is null or run = $run
    group by run, step
)
select
    t.run,
    t.step,
    t.docs::bigint                                           as docs,
    t.tokens::bigint                                         as tokens,
    coalesce(v.vocabulary, 0)::bigint                        as vocabulary,
    coalesce(v.hapax, 0)::bigint                             as hapax,
    round(coalesce(v.vocabulary, 0) / nullif(t.tokens, 0), 4) as type_token_ratio
from totals t
left join vocab v on v.run = t.run and v.step = t.step
order by t.run, t.step;
