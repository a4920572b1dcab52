-- termcounts_batch: the segments of uncounted transcripts with $lo <= pk <= $hi.
select s.transcript_pk, s.kind, s.text
from segments s
where s.transcript_pk between $lo and $hi
  and not exists (select 1 from doc_tokens d where d.transcript_pk = s.transcript_pk)
order by s.transcript_pk, s.ordinal;
