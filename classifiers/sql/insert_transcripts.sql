-- insert_transcripts: per-transcript results (the transcript decision) from the registered Arrow
-- table cw_transcripts, one row per transcript of the chunk, with or without reasoning.
insert into classifier_transcripts
    (classifier_id, transcript_pk, n_sentences, n_candidates, max_score, flagged, n_flagged, transcript_score)
select classifier_id, transcript_pk, n_sentences, n_candidates, max_score, flagged, n_flagged, transcript_score
from cw_transcripts
