-- viewer_term_steps: per run and step, occurrences of the terms $terms in scopes $scopes and the
-- transcripts using them (summed over the terms: a transcript using two of them counts twice),
-- from the materialized counts; optional $run, $step, $environment.
select run, step, sum(occurrences)::bigint as occurrences, sum(docs_with_term)::bigint as docs
from step_term_counts
where list_contains($terms, term) and list_contains($scopes, scope)
  and ($run is null or run = $run)
  and ($step is null or step = $step)
  and ($environment is null or environment = $environment)
group by run, step
order by run, step;
