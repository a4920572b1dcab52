-- termcounts_merge_step_ids: append per-cell sums given with ids — _part_cells(cell, run, step,
-- environment), _part_step_terms(cell, scope, term_id, sums), _part_step_tokens(cell, scope,
-- sums) — as folded by materialize over a commit (one row per key; termcounts_compact folds the
-- cells that span two commits).
insert into step_term_counts (run, step, environment, scope, term, occurrences, docs_with_term, sum_n2, sum_n_tokens)
select c.run, c.step, c.environment, p.scope, v.term, p.occurrences, p.docs_with_term, p.sum_n2, p.sum_n_tokens
from _part_step_terms p
join _part_cells c on c.cell = p.cell
join term_vocab v on v.term_id = p.term_id;

insert into step_token_counts (run, step, environment, scope, transcripts, docs, tokens, sum_tokens2)
select c.run, c.step, c.environment, p.scope, p.transcripts, p.docs, p.tokens, p.sum_tokens2
from _part_step_tokens p
join _part_cells c on c.cell = p.cell;
