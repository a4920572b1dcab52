-- term_text_segments: the segments that can hold a token sequence (phrases, case-sensitive
-- tokens), for the exact count in analytics/terms/phrases.py: (transcript_pk, text) of segments of
-- kinds $kinds whose transcript's token lists in stored scopes $scopes hold every term id in $ids
-- (an empty list: every transcript) and whose text matches the RE2 pattern $prefilter (a superset
-- of the exact matches). Filters: $runs (list; null = all), $environment, $steps (list; null = all).
select s.transcript_pk, s.text
from segments s
where list_contains($kinds, s.kind)
  and s.transcript_pk in (
      select d.transcript_pk
      from doc_term_lists d
      join transcripts t on t.pk = d.transcript_pk
      where list_contains($scopes, d.scope)
        and list_has_all(d.term_ids, $ids::integer[])
        and ($runs is null or list_contains($runs, t.run))
        and ($environment is null or t.environment = $environment)
        and ($steps is null or list_contains($steps, t.step))
  )
  and regexp_matches(s.text, $prefilter);
