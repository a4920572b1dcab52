-- termcounts_vocab_append: new terms _new_terms(term_id, term), numbered by the caller after the
-- largest id (it holds the whole vocabulary and the write lock).
insert into term_vocab (term_id, term)
select term_id, term from _new_terms;
