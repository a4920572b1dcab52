-- term_cells: the denominators per cell (run, step, environment) in one stored scope $scope:
-- transcripts, docs (transcripts with >= 1 token in scope), tokens, sum_tokens2.
-- Parameters: $scope, $runs (list; null = every run), $environment (null = every environment).
select run, step, environment,
       sum(transcripts)::bigint as transcripts, sum(docs)::bigint as docs,
       sum(tokens)::bigint as tokens, sum(sum_tokens2)::bigint as sum_tokens2
from step_token_counts
where scope = $scope
  and ($runs is null or list_contains($runs, run))
  and ($environment is null or environment = $environment)
group by run, step, environment
order by run, step, environment;
