-- export_sentences: scored sentences of the transcripts in cw_chunk(pk) for classifier version
-- $classifier_id: transcript_pk, ordinal, sentence, start_char, end_char, score, flagged.
select transcript_pk, ordinal, sentence, start_char, end_char, score, flagged
from classifier_sentences
where classifier_id = $classifier_id
  and transcript_pk in (select pk from cw_chunk)
order by transcript_pk, ordinal, sentence
