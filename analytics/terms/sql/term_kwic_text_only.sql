-- term_kwic_text_only: (transcript_pk, text) of the segments of the transcripts in $pks whose kind
-- is in $kinds, in order.
select s.transcript_pk, s.text
from segments s
where list_contains($pks, s.transcript_pk) and list_contains($kinds, s.kind)
order by s.transcript_pk, s.ordinal;
