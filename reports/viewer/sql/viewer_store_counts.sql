-- viewer_store_counts: transcripts, segments and counted (materialized) transcripts in the store.
select (select count(*) from transcripts) as transcripts,
       (select count(*) from segments) as segments,
       (select count(distinct transcript_pk) from doc_tokens) as counted;
