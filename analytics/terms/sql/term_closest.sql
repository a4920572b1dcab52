-- term_closest: the counted tokens closest to $term (Damerau-Levenshtein distance: insertions,
-- deletions, substitutions and transpositions, <= $max_distance),
-- with their occurrences in stored scopes $scopes and runs $runs (list; null = all): the
-- suggestions of a term that never occurs. Nearest first, then most used, then alphabetical.
with near as (
    select term, damerau_levenshtein(term, $term) as distance
    from term_vocab
    where abs(length(term) - length($term)) <= $max_distance
      and damerau_levenshtein(term, $term) <= $max_distance
      and term <> $term
)
select n.term, n.distance, sum(s.occurrences)::bigint as occurrences
from near n
join step_term_counts s on s.term = n.term
where list_contains($scopes, s.scope)
  and ($runs is null or list_contains($runs, s.run))
group by n.term, n.distance
having sum(s.occurrences) > 0
order by n.distance, occurrences desc, jaro_winkler_similarity(n.term, $term) desc, n.term
limit $limit;
