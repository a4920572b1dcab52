-- Terms whose rate in reasoning fell most between two checkpoints (log2 ratio of smoothed rates per 1,000 tokens).
-- $from_step: the earlier checkpoint step
-- $to_step: the later checkpoint step
-- $run = null: only this run (null: every run pooled)
-- $min_docs = 3: ignore terms used by fewer transcripts than this at $from_step (drops one-transcript bursts)
-- $limit = 20: how many terms
with totals as (
    select
        sum(tokens) filter (where step = $from_step::bigint) as from_tokens,
        sum(tokens) filter (where step = $to_step::bigint)   as to_tokens
    from step_totals
    where $run is null or run = $run
),
per_term as (
    select
        term,
        coalesce(sum(occurrences) filter (where step = $from_step::bigint), 0) as from_occurrences,
        coalesce(sum(occurrences) filter (where step = $to_step::bigint), 0)   as to_occurrences,
        coalesce(sum(docs_with_term) filter (where step = $from_step::bigint), 0) as from_docs,
        coalesce(sum(docs_with_term) filter (where step = $to_step::bigint), 0)   as to_docs
    from term_counts
    where step in ($from_step::bigint, $to_step::bigint)
      and ($run is null or run = $run)
    group by term
)
select
    p.term,
    p.from_occurrences::bigint                                       as from_occurrences,
    p.to_occurrences::bigint                                         as to_occurrences,
    p.from_docs::bigint                                              as from_docs,
    p.to_docs::bigint                                                as to_docs,
    round(1000.0 * p.from_occurrences / t.from_tokens, 4)            as from_per_1k,
    round(1000.0 * p.to_occurrences / t.to_tokens, 4)                as to_per_1k,
    -- add-half smoothing keeps terms absent at $to_step finite
    round(log2(((p.to_occurrences + 0.5) / t.to_tokens) / ((p.from_occurrences + 0.5) / t.from_tokens)), 4) as log2_ratio
from per_term p, totals t
where p.from_docs >= $min_docs::bigint
  and t.from_tokens > 0 and t.to_tokens > 0
  and log2_ratio < 0
order by log2_ratio asc, p.term
limit $limit::bigint;
