-- term_candidate_docs: transcripts (pk, transcript_id, run, step, environment) that can hold a
-- term, in (run, step, id) order — or, given $seed, in a random order fixed by it (for sampling
-- contexts): their
-- token lists in stored scopes $scopes hold any id of $any_ids (tokens, wildcards, regexes), or
-- the rarest token of a token sequence (phrases, case-sensitive tokens: one id per sequence in
-- $rare_ids; null: no list filter) and a segment of kinds $kinds matches the RE2 pattern
-- $prefilter (null: no sequence).
-- A superset: the caller matches exactly. Filters: $runs (list; null = all), $step, $environment.
-- Read by concordance.candidate_texts (KWIC lines, sampled contexts).
-- (list_contains of one id is ~30x faster than list_has_any here; empty lists are folded away.)
select t.pk, t.id as transcript_id, t.run, t.step, t.environment
from transcripts t
where ($runs is null or list_contains($runs, t.run))
  and ($step is null or t.step = $step)
  and ($environment is null or t.environment = $environment)
  and (
      (len($any_ids::integer[]) > 0 and exists (
          select 1 from doc_term_lists d
          where d.transcript_pk = t.pk and list_contains($scopes, d.scope)
            and list_has_any(d.term_ids, $any_ids::integer[])
      ))
      or ($prefilter is not null and exists (
          select 1 from doc_term_lists d
          where d.transcript_pk = t.pk and list_contains($scopes, d.scope)
            and ($rare_ids is null
                 or (len($rare_ids::integer[]) = 1 and list_contains(d.term_ids, ($rare_ids::integer[])[1]))
                 or (len($rare_ids::integer[]) > 1 and list_has_any(d.term_ids, $rare_ids::integer[])))
      ) and exists (
          select 1 from segments s
          where s.transcript_pk = t.pk and list_contains($kinds, s.kind)
            and regexp_matches(s.text, $prefilter)
      ))
  )
order by case when $seed is null then 0 else hash(t.pk, $seed) end,
         case when $seed is null then null else t.pk end,
         t.run, t.step, t.id;
