-- A term's rate in reasoning at every checkpoint: occurrences per 1,000 tokens and the share of transcripts using it (0 where absent).
-- $term: the term, one token as the tokenizer makes it (lowercase; e.g. grader, isn't)
-- $run = null: only this run (null: every run, each on its own rows)
-- $environment = null: only this environment (null: all environments pooled)
with totals as (
    select run, step, sum(tokens) as tokens, sum(docs) as docs
    from step_totals
    where ($run is null or run = $run)
      and ($environment is null or environment = $environment)
    group by run, step
),
hits as (
    select run, step, sum(occurrences) as occurrences, sum(docs_with_term) as docs_with_term
    from term_counts
    where term = replace(lower($term), '’', '''')
      and ($run is null or run = $run)
      and ($environment is null or environment = $environment)
    group by run, step
)
select
    t.run,
    t.step,
    coalesce(h.occurrences, 0)::bigint                                   as occurrences,
    t.tokens::bigint                                                     as tokens,
    round(1000.0 * coalesce(h.occurrences, 0) / nullif(t.tokens, 0), 4)  as per_1k_tokens,
    coalesce(h.docs_with_term, 0)::bigint                                as docs_with_term,
    t.docs::bigint                                                       as docs,
    round(coalesce(h.docs_with_term, 0) / nullif(t.docs, 0), 4)          as doc_fraction
from totals t
left join hits h on h.run = t.run and h.step = t.step
order by t.run, t.step;
