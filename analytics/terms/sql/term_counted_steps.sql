-- term_counted_steps: the steps with counted transcripts in stored scopes $scopes, for runs $runs
-- (list; null = all) and $environment (null = all), ascending.
select distinct step
from step_token_counts
where list_contains($scopes, scope)
  and ($runs is null or list_contains($runs, run))
  and ($environment is null or environment = $environment)
order by step;
