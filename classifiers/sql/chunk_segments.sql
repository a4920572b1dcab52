-- chunk_segments: reasoning segments (reasoning + reasoning_summary, not redacted) of the
-- transcripts in the registered Arrow table cw_chunk(pk). Returns transcript_pk, ordinal, text.
select s.transcript_pk, s.ordinal, s.text
from segments s
where s.transcript_pk in (select pk from cw_chunk)
  and s.kind in ('reasoning', 'reasoning_summary')
  and not s.redacted
order by s.transcript_pk, s.ordinal
