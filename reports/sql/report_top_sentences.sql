-- report_top_sentences: the highest-scoring flagged sentences of one classifier, for the evidence
-- section (from the public view api.sentence_scores: the latest classifier version per run).
-- Parameters: $classifier (VARCHAR), $runs (VARCHAR[]), $limit (BIGINT).
-- Returns: transcript_id, run, step, environment, sentence, score
select transcript_id, run, step, environment, sentence, score
from api.sentence_scores
where classifier = $classifier and list_contains($runs, run) and flagged
order by score desc, run, step, transcript_id, ordinal, sentence_index
limit $limit;
