-- term_scripts: the script (one of $names, recognised by the RE2 class in $patterns at the same
-- position) of the letter-bearing tokens with the most occurrences in stored scopes $scopes of
-- runs $runs (list; null = all) and $environment (null = all): the dominant script, one row.
with per_term as (
    select term, sum(occurrences) as occurrences
    from step_term_counts
    where list_contains($scopes, scope)
      and ($runs is null or list_contains($runs, run))
      and ($environment is null or environment = $environment)
    group by term
), scripted as (
    select occurrences,
           list_filter(list_zip($names, $patterns), lambda np: regexp_matches(term, np[2]))[1][1] as script
    from per_term
)
select script, sum(occurrences) as occurrences
from scripted
where script is not null
group by script
order by occurrences desc, script
limit 1;
