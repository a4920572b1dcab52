-- termcounts_vocab_all: the whole vocabulary (term, term_id), loaded once by a large
-- materialization so that it can number new terms itself.
select term, term_id from term_vocab;
