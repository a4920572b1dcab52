-- termcounts_pending: pks of transcripts with no materialized counts yet, in order.
select pk from transcripts t
where not exists (select 1 from doc_tokens d where d.transcript_pk = t.pk)
order by pk;
