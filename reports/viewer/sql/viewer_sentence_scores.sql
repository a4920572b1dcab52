-- viewer_sentence_scores: the sentences of transcript $pk scored by the classifier versions
-- $classifier_ids that passed the cascade's first stage (stage 2) or were flagged: segment
-- ordinal, sentence index, code-point offsets into the segment text, score and flag.
select classifier_id, ordinal, sentence, start_char, end_char, score::double as score, flagged
from classifier_sentences
where transcript_pk = $pk and list_contains($classifier_ids, classifier_id) and (stage = 2 or flagged)
order by ordinal, sentence, classifier_id;
