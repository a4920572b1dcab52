-- The most frequent reasoning terms at one checkpoint, with their rate and how many transcripts use them.
-- $step: the checkpoint step
-- $run = null: only this run (null: every run pooled)
-- $min_length = 4: skip terms shorter than this many characters (drops most function words)
-- $limit = 25: how many terms
with totals as (
    select sum(tokens) as tokens, sum(docs) as docs
    from step_totals
    where step = $step::bigint and ($run is null or run = $run)
)
select
    c.term,
    sum(c.occurrences)::bigint                                 as occurrences,
    round(1000.0 * sum(c.occurrences) / any_value(t.tokens), 4) as per_1k_tokens,
    sum(c.docs_with_term)::bigint                              as docs_with_term,
    round(sum(c.docs_with_term) / any_value(t.docs), 4)        as doc_fraction
from term_counts c, totals t
where c.step = $step::bigint
  and ($run is null or c.run = $run)
  and length(c.term) >= $min_length::bigint
group by c.term
order by occurrences desc, c.term
limit $limit::bigint;
