-- delete_sentences: forget sentence scores of $classifier_id for run $run (all runs when null),
-- so `classify apply --rescore` recomputes them (embeddings stay cached).
delete from classifier_sentences
where classifier_id = $classifier_id
  and transcript_pk in (select pk from transcripts where $run is null or run = $run)
