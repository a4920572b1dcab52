-- term_text_segments_scan: (transcript_pk, text) of every segment of kinds $kinds whose text
-- matches the RE2 pattern $prefilter, in transcripts of $runs (list; null = all), $environment and
-- $steps (list; null = all) — term_text_segments for a token sequence whose candidates are a large
-- share of the selection (reading every text once is then cheaper than testing the list).
select s.transcript_pk, s.text
from segments s
join transcripts t on t.pk = s.transcript_pk
where list_contains($kinds, s.kind)
  and ($runs is null or list_contains($runs, t.run))
  and ($environment is null or t.environment = $environment)
  and ($steps is null or list_contains($steps, t.step))
  and regexp_matches(s.text, $prefilter);
