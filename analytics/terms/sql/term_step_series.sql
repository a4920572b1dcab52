-- term_step_series: per term and step of run $run in stored scope $scope (summed over
-- environments, or only $environment): occurrences and docs_with_term — for the terms used in at
-- least $min_docs transcripts over the steps listed in $window (the candidates of discover).
with candidates as (
    select term
    from step_term_counts
    where run = $run and scope = $scope and list_contains($window, step)
      and ($environment is null or environment = $environment)
    group by term
    having sum(docs_with_term) >= $min_docs
)
select s.term, s.step,
       sum(s.occurrences)::bigint as occurrences, sum(s.docs_with_term)::bigint as docs_with_term
from step_term_counts s
semi join candidates c on c.term = s.term
where s.run = $run and s.scope = $scope
  and ($environment is null or s.environment = $environment)
group by s.term, s.step;
