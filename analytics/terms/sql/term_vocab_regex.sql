-- term_vocab_regex: (term_id, term) of every counted token the RE2 pattern $pattern matches
-- anywhere (a /regex/ term, translated and bounded by analytics/regexes.py: linear time).
select term_id, term from term_vocab where regexp_matches(term, $pattern) order by term;
