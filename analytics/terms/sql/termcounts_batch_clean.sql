-- termcounts_batch_clean: termcounts_batch for a range where every transcript is uncounted
-- (termcounts_pending's `clean`): the same rows without the anti-join against doc_tokens.
select t.pk as transcript_pk, s.kind, s.text, t.run, t.step, t.environment
from transcripts t
left join segments s on s.transcript_pk = t.pk
where t.pk between $lo and $hi
order by t.pk, s.ordinal;
