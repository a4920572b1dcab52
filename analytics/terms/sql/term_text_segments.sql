-- term_text_segments: (transcript_pk, text) of the segments of kinds $kinds of the transcripts in
-- $pks (the candidates of term_text_candidates) whose text matches the RE2 pattern $prefilter (a
-- superset of a token sequence's exact matches), for the exact count in analytics/terms/phrases.py.
-- (With the candidates as a constant list DuckDB tests them before the regex and reads the text
-- of those rows only; as a semi-join it runs the regex on every segment first.)
select s.transcript_pk, s.text
from segments s
where list_contains($pks, s.transcript_pk)
  and list_contains($kinds, s.kind)
  and regexp_matches(s.text, $prefilter);
