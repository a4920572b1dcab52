-- delete_transcripts: forget per-transcript results of $classifier_id for run $run (all runs
-- when null); used with delete_sentences by `classify apply --rescore`.
delete from classifier_transcripts
where classifier_id = $classifier_id
  and transcript_pk in (select pk from transcripts where $run is null or run = $run)
