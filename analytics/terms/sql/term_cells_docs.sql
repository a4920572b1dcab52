-- term_cells_docs: term_cells for a set of scopes ($scopes, e.g. every scope for --scope all),
-- from per-transcript tokens (a transcript's tokens are summed over the scopes first).
-- Parameters: $scopes (list), $runs (list; null = all), $environment (null = all).
with tok as (
    select d.transcript_pk, sum(d.tokens) as t
    from doc_tokens d
    where list_contains($scopes, d.scope)
    group by d.transcript_pk
)
select tr.run, tr.step, tr.environment,
       count(*)::bigint as transcripts, count(*) filter (where tok.t > 0)::bigint as docs,
       sum(tok.t)::bigint as tokens, sum(tok.t * tok.t)::bigint as sum_tokens2
from tok
join transcripts tr on tr.pk = tok.transcript_pk
where ($runs is null or list_contains($runs, tr.run))
  and ($environment is null or tr.environment = $environment)
group by tr.run, tr.step, tr.environment
order by tr.run, tr.step, tr.environment;
