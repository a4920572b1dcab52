-- shard_scores_sentences: a chunk of sentence-score partials (_p_sentences) in the shape
-- insert_sentences reads (cw_sentences), keyed by store pk; only transcripts in _job_todo.
select
    $classifier_id::integer as classifier_id,
    j.pk                    as transcript_pk,
    p.ordinal, p.sentence, p.start_char, p.end_char, p.stage, p.score, p.flagged
from _p_sentences p
join _job_todo j on j.run = p.run and j.transcript_id = p.transcript_id and j.part = p.part
order by j.pk, p.ordinal, p.sentence
