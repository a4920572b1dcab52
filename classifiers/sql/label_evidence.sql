-- label_evidence: the $per_transcript highest-scoring reasoning sentences of each transcript in
-- $pks for classifier version $classifier_id (evidence shown to a labeller). Returns pk,
-- sentence, score, flagged.
select s.transcript_pk as pk,
       substring(g.text, s.start_char + 1, s.end_char - s.start_char) as sentence,
       s.score::double as score,
       s.flagged
from classifier_sentences s
join segments g on g.transcript_pk = s.transcript_pk and g.ordinal = s.ordinal
where s.classifier_id = $classifier_id
  and s.transcript_pk in (select unnest($pks::bigint[]))
  and s.stage = 2
qualify row_number() over (partition by s.transcript_pk order by s.score desc, s.ordinal, s.sentence) <= $per_transcript
order by s.transcript_pk, s.score desc
