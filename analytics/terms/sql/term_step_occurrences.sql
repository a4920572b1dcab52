-- term_step_occurrences: occurrences of every term per step of run $run, for the steps in $steps
-- and the stored scopes in $scopes (summed over them, and over environments unless $environment).
select term, step, sum(occurrences)::bigint as occurrences
from step_term_counts
where run = $run and list_contains($steps, step) and list_contains($scopes, scope)
  and ($environment is null or environment = $environment)
group by term, step;
