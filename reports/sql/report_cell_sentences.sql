-- report_cell_sentences: evidence for the awareness charts — per (run, step, environment) cell,
-- the transcripts with the highest-scoring flagged sentence of classifier $classifier, one
-- sentence (its best) per transcript, at most $per_cell transcripts per cell. From the public
-- view main.sentence_scores (latest classifier version per run).
-- Parameters: $classifier (VARCHAR), $runs (VARCHAR[]), $per_cell (BIGINT).
-- Returns: run, step, environment, transcript_id, score, text
with best as (
    select run, step, environment, transcript_id, score, sentence as text
    from main.sentence_scores
    where classifier = $classifier and list_contains($runs, run) and flagged
    qualify row_number() over (partition by run, transcript_id
                               order by score desc, ordinal, sentence_index) = 1
)
select run, step, environment, transcript_id, score, text
from best
qualify row_number() over (partition by run, step, environment
                           order by score desc, transcript_id) <= $per_cell
order by run, step, environment, score desc, transcript_id;
