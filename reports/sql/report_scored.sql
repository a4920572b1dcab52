-- report_scored: per (run, step), how many transcripts classifier $classifier scored and how many
-- of them had at least one reasoning sentence to score; a step where none had is "no data" in
-- the awareness chart, not 0% (main.transcript_flags, latest classifier version per run).
-- Parameters: $classifier (VARCHAR), $runs (VARCHAR[]).
-- Returns: run, step, scored, with_sentences
select run, step, count(*)::bigint as scored, count(*) filter (where sentences > 0)::bigint as with_sentences
from main.transcript_flags
where classifier = $classifier and list_contains($runs, run)
group by run, step
order by run, step;
