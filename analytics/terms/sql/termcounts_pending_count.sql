-- termcounts_pending_count: how many transcripts have no materialized counts yet.
select count(*) from transcripts t
where not exists (select 1 from doc_tokens d where d.transcript_pk = t.pk);
