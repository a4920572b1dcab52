-- term_doc_counts: per cell and label, the sums behind rates and intervals, for labels counted
-- per transcript: several tokens (registered _labels(label, term_id): wildcards, regexes, groups),
-- several scopes, or token sequences counted from text (registered _text_hits(transcript_pk,
-- label, n): phrases, case-sensitive tokens). A transcript's count of a label is the sum over
-- its tokens, sequences and scopes, so docs_with_term counts it once.
-- Parameters: $ids (every term_id of _labels), $scopes (list), $runs (list; null = all),
-- $environment (null = all).
with hits as (
    select d.transcript_pk, unnest(d.term_ids) as term_id,
           unnest(list_resize(d.counts, len(d.term_ids), 1)) as n  -- counts > 1 first (0007)
    from doc_term_lists d
    where len($ids::integer[]) > 0  -- folded to false when only text hits are counted: no scan
      and list_contains($scopes, d.scope) and list_has_any(d.term_ids, $ids::integer[])
), per_doc as (
    select transcript_pk, label, sum(n)::bigint as x
    from (
        select h.transcript_pk, l.label, h.n
        from hits h
        join _labels l on l.term_id = h.term_id
        union all
        select transcript_pk, label, n
        from _text_hits
    )
    group by transcript_pk, label
), tok as (
    select d.transcript_pk, sum(d.tokens)::bigint as t
    from doc_tokens d
    where list_contains($scopes, d.scope)
      and d.transcript_pk in (select transcript_pk from per_doc)
    group by d.transcript_pk
)
select tr.run, tr.step, tr.environment, p.label,
       sum(p.x)::bigint as occurrences, count(*)::bigint as docs_with_term,
       sum(p.x * p.x)::bigint as sum_n2, sum(p.x * tok.t)::bigint as sum_n_tokens
from per_doc p
join tok on tok.transcript_pk = p.transcript_pk
join transcripts tr on tr.pk = p.transcript_pk
where ($runs is null or list_contains($runs, tr.run))
  and ($environment is null or tr.environment = $environment)
group by tr.run, tr.step, tr.environment, p.label;
