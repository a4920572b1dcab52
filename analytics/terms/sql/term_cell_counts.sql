-- term_cell_counts: per cell and label, the sums behind rates and intervals, for labels that are
-- single tokens (registered table _labels(label, term)), from the materialized step table.
-- Parameters: $scope (a stored scope), $runs (list; null = all), $environment (null = all).
select s.run, s.step, s.environment, l.label,
       sum(s.occurrences)::bigint as occurrences, sum(s.docs_with_term)::bigint as docs_with_term,
       sum(s.sum_n2)::bigint as sum_n2, sum(s.sum_n_tokens)::bigint as sum_n_tokens
from step_term_counts s
join _labels l on l.term = s.term
where s.scope = $scope
  and ($runs is null or list_contains($runs, s.run))
  and ($environment is null or s.environment = $environment)
group by s.run, s.step, s.environment, l.label;
