-- termcounts_vocab_size: terms in the vocabulary and the next free term id.
select count(*), coalesce(max(term_id), 0) + 1 from term_vocab;
