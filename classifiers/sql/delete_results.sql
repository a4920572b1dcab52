-- delete_results: forget sentence and transcript results of $classifier_id for a run (all runs
-- when $run is null), so `classify apply --rescore` recomputes them (embeddings stay cached).
delete from classifier_sentences
where classifier_id = $classifier_id
  and transcript_pk in (select pk from transcripts where $run is null or run = $run);
delete from classifier_transcripts
where classifier_id = $classifier_id
  and transcript_pk in (select pk from transcripts where $run is null or run = $run);
