-- term_occurs: whether the counted token $term occurs in stored scopes $scopes of runs $runs
-- (list; null = all).
select exists (
    select 1 from step_term_counts
    where term = $term and list_contains($scopes, scope) and occurrences > 0
      and ($runs is null or list_contains($runs, run))
);
