-- termcounts_merge_steps: append per-cell sums given with names (_part_step_terms,
-- _part_step_tokens: run, step, environment, scope[, term], sums); extra rows per key are folded
-- by termcounts_compact.
insert into step_term_counts (run, step, environment, scope, term, occurrences, docs_with_term, sum_n2, sum_n_tokens)
select run, step, environment, scope, term, occurrences, docs_with_term, sum_n2, sum_n_tokens
from _part_step_terms;

insert into step_token_counts (run, step, environment, scope, transcripts, docs, tokens, sum_tokens2)
select run, step, environment, scope, transcripts, docs, tokens, sum_tokens2
from _part_step_tokens;
