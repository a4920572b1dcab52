-- viewer_term_docs: transcripts with key in ($after, $until] whose materialized term lists (in the
-- scopes $scopes) hold every ($all) or any of the term ids $ids (distinct); optional $run, $step,
-- $environment; in key (ingest) order, at most $limit. The key range is applied to the term lists
-- themselves, so only that window of them is read; the lists are unnested and matched with
-- list_contains on the constant list (5-10x faster than list_has_all/list_has_any per row).
with hit as (
    select transcript_pk as pk
    from (
        select transcript_pk, unnest(term_ids) as id
        from doc_term_lists
        where transcript_pk > $after and transcript_pk <= $until and list_contains($scopes, scope)
    )
    where list_contains($ids, id)
    group by transcript_pk
    having not $all or count(distinct id) = len($ids)
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
