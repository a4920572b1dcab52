-- viewer_text_docs: transcripts with key in ($after, $until] holding a segment of a kind in $kinds
-- whose lowercased text contains $needle (already lowercased); optional $run, $step,
-- $environment; in key (ingest) order, at most $limit. A scan of that window of the text: callers
-- walk the keys window by window under a time limit.
with hit as (
    select distinct s.transcript_pk as pk
    from segments s
    where s.transcript_pk > $after and s.transcript_pk <= $until
      and list_contains($kinds, s.kind) and strpos(lower(s.text), $needle) > 0
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
