-- term_vocab_all: every counted token (term_id, term), for regular-expression term specs.
select term_id, term from term_vocab order by term;
