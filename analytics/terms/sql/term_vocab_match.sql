-- term_vocab_match: (term_id, term) of every counted token matching the LIKE pattern $like
-- (tokens never contain '_' or '%', so a wildcard's '*' maps to '%' without escaping).
select term_id, term from term_vocab where term like $like order by term;
