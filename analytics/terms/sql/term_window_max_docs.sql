-- term_window_max_docs: the most transcripts any term is used in over the steps in $window of run
-- $run, in stored scope $scope ($environment: null = all) — the largest usable --min-docs.
select max(docs) from (
    select term, sum(docs_with_term) as docs
    from step_term_counts
    where run = $run and scope = $scope and list_contains($window, step)
      and ($environment is null or environment = $environment)
    group by term
);
