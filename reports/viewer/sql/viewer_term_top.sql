-- viewer_term_top: the terms among $terms with the most occurrences in scopes $scopes
-- (optional $run, $step, $environment), at most $limit.
select term, sum(occurrences)::bigint as occurrences
from step_term_counts
where list_contains($terms, term) and list_contains($scopes, scope)
  and ($run is null or run = $run)
  and ($step is null or step = $step)
  and ($environment is null or environment = $environment)
group by term
order by occurrences desc, term
limit $limit;
