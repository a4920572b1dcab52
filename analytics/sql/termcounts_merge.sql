-- termcounts_merge: append one merged partial, already restricted to new transcripts and summed
-- per cell in Python: _part_terms (per-transcript term lists), _part_tokens, and the per-cell sums
-- _part_step_terms / _part_step_tokens (extra rows; termcounts_compact folds them per key).
insert into doc_term_lists (transcript_pk, scope, term_ids, counts)
select transcript_pk, scope, term_ids, counts from _part_terms;

insert into doc_tokens (transcript_pk, scope, tokens)
select transcript_pk, scope, tokens from _part_tokens;

insert into step_term_counts (run, step, environment, scope, term, occurrences, docs_with_term, sum_n2, sum_n_tokens)
select run, step, environment, scope, term, occurrences, docs_with_term, sum_n2, sum_n_tokens
from _part_step_terms;

insert into step_token_counts (run, step, environment, scope, transcripts, docs, tokens, sum_tokens2)
select run, step, environment, scope, transcripts, docs, tokens, sum_tokens2
from _part_step_tokens;
