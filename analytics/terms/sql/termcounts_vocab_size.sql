-- termcounts_vocab_size: terms in the vocabulary.
select count(*) from term_vocab;
