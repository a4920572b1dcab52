-- term_kwic_docs: transcripts (pk, transcript_id, run, step, environment) that can hold a term,
-- in (run, step, id) order: their token lists in stored scopes $scopes hold any id of $any_ids
-- (tokens, wildcards, regexes), or every id of one of the lists in $all_ids (token sequences:
-- phrases, case-sensitive tokens) and a segment of kinds $kinds matches the RE2 pattern
-- $prefilter. Filters: $runs (list; null = all), $step, $environment (null = all).
select t.pk, t.id as transcript_id, t.run, t.step, t.environment
from transcripts t
where ($runs is null or list_contains($runs, t.run))
  and ($step is null or t.step = $step)
  and ($environment is null or t.environment = $environment)
  and (
      exists (
          select 1 from doc_term_lists d
          where d.transcript_pk = t.pk and list_contains($scopes, d.scope)
            and list_has_any(d.term_ids, $any_ids::integer[])
      )
      or (
          exists (
              select 1 from doc_term_lists d
              where d.transcript_pk = t.pk and list_contains($scopes, d.scope)
                and len(list_filter($all_ids::integer[][], lambda ids: list_has_all(d.term_ids, ids))) > 0
          )
          and exists (
              select 1 from segments s
              where s.transcript_pk = t.pk and list_contains($kinds, s.kind)
                and regexp_matches(s.text, $prefilter)
          )
      )
  )
order by t.run, t.step, t.id;
