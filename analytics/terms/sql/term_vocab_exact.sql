-- term_vocab_exact: (term_id, term) of the counted tokens in the list $terms.
select term_id, term from term_vocab where list_contains($terms, term) order by term;
