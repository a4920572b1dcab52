-- flagged_sentences: flagged sentences of classifier version $classifier_id in run $run, highest
-- score first: at most $per_step per step and $limit in all. Offsets are code-point indices into
-- the segment text. Returns transcript_id, run, step, environment, ordinal, sentence_index,
-- start_char, end_char, sentence, score.
select t.id as transcript_id, t.run, t.step, t.environment, s.ordinal, s.sentence as sentence_index,
       s.start_char, s.end_char,
       substring(g.text, s.start_char + 1, s.end_char - s.start_char) as sentence,
       s.score::double as score
from classifier_sentences s
join transcripts t on t.pk = s.transcript_pk
join segments g on g.transcript_pk = s.transcript_pk and g.ordinal = s.ordinal
where s.classifier_id = $classifier_id
  and t.run = $run
  and s.flagged
qualify row_number() over (partition by t.step order by s.score desc, t.id, s.ordinal, s.sentence) <= $per_step
order by s.score desc, t.step, t.id, s.ordinal, s.sentence
limit $limit
