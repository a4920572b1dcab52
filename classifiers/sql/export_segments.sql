-- export_segments: every segment of the transcripts in the registered Arrow table cw_chunk(pk),
-- in order: transcript_pk, ordinal, role, kind, text.
select s.transcript_pk, s.ordinal, s.role, s.kind, s.text
from segments s
where s.transcript_pk in (select pk from cw_chunk)
order by s.transcript_pk, s.ordinal
