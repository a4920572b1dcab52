-- term_kwic_docs: transcripts (pk, id, run, step, environment) whose text in $scopes holds any
-- token of $ids, found through the materialized counts; optional $run, $step, $environment;
-- ordered by run, step, id; at most $limit.
select t.pk, t.id as transcript_id, t.run, t.step, t.environment
from transcripts t
where ($run is null or t.run = $run)
  and ($step is null or t.step = $step)
  and ($environment is null or t.environment = $environment)
  and exists (
      select 1 from doc_term_lists d
      where d.transcript_pk = t.pk and list_contains($scopes, d.scope) and list_has_any(d.term_ids, $ids)
  )
order by t.run, t.step, t.id
limit $limit;
