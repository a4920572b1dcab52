-- insert_sentences: sentence scores from the registered Arrow table cw_sentences.
insert into classifier_sentences
select classifier_id, transcript_pk, ordinal, sentence, start_char, end_char, stage, score, flagged
from cw_sentences
