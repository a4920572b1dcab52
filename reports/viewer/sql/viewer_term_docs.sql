-- viewer_term_docs: transcripts with key in ($after, $until] whose materialized term list in one of
-- the scopes $scopes holds every ($all) or any of the term ids $ids; optional $run, $step,
-- $environment; in key (ingest) order, at most $limit. The key range is applied to the term lists
-- themselves, so only that window of them is read.
with hit as (
    select distinct d.transcript_pk as pk
    from doc_term_lists d
    where d.transcript_pk > $after and d.transcript_pk <= $until
      and list_contains($scopes, d.scope)
      and (case when $all then list_has_all(d.term_ids, $ids) else list_has_any(d.term_ids, $ids) end)
)
select t.pk, t.id, t.run, t.step, t.environment
from hit
join transcripts t on t.pk = hit.pk
where t.pk > $after and t.pk <= $until
  and ($run is null or t.run = $run)
  and ($step is null or t.step = $step)
  and ($environment is null or t.environment = $environment)
order by t.pk
limit $limit;
