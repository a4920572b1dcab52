-- termcounts_batch: the segments of uncounted transcripts with $lo <= pk <= $hi, in order, with
-- each transcript's run, step and environment; a transcript without segments yields one row
-- with null kind and text (so it gets zero counts).
select t.pk as transcript_pk, s.kind, s.text, t.run, t.step, t.environment
from transcripts t
left join segments s on s.transcript_pk = t.pk
where t.pk between $lo and $hi
  and not exists (select 1 from doc_tokens d where d.transcript_pk = t.pk)
order by t.pk, s.ordinal;
