-- viewer_transcript_scores: per classifier version in $classifier_ids, the transcript $pk's
-- result: sentences scored, first-stage candidates, flagged sentences, highest sentence score, and
-- the transcript decision (flagged; transcript_score, NULL for results of older artifacts).
select classifier_id, n_sentences, n_candidates, n_flagged, max_score::double as max_score, flagged,
       transcript_score
from classifier_transcripts
where transcript_pk = $pk and list_contains($classifier_ids, classifier_id)
order by classifier_id;
