-- ingest_chunk_counting: the term kernel's input for the chunk's new records, read back from the
-- transaction's own rows (store pks $lo..$hi): their segments in pk and ordinal order, with each
-- transcript's run, step and environment.
select s.transcript_pk, s.kind, s.text, t.run, t.step, t.environment
from segments s
join transcripts t on t.pk = s.transcript_pk
where s.transcript_pk between $lo and $hi and t.pk between $lo and $hi
order by s.transcript_pk, s.ordinal;
