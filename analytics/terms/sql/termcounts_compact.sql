-- termcounts_compact: fold the extra rows that merges append into one row per key, in the
-- cells (run, step, environment) that have them. Every merge that adds term rows to a cell also
-- adds a token row to it, so duplicated token rows find every cell to fold.
create or replace temp table _fold_cells as
select distinct run, step, environment
from step_token_counts
group by run, step, environment, scope
having count(*) > 1;

create or replace temp table _folded_terms as
select s.run, s.step, s.environment, s.scope, s.term,
       sum(s.occurrences)::bigint as occurrences, sum(s.docs_with_term)::bigint as docs_with_term,
       sum(s.sum_n2)::bigint as sum_n2, sum(s.sum_n_tokens)::bigint as sum_n_tokens
from step_term_counts s
where exists (select 1 from _fold_cells c
              where c.run = s.run and c.step = s.step and c.environment is not distinct from s.environment)
group by all;

create or replace temp table _folded_tokens as
select s.run, s.step, s.environment, s.scope,
       sum(s.transcripts)::bigint as transcripts, sum(s.docs)::bigint as docs,
       sum(s.tokens)::bigint as tokens, sum(s.sum_tokens2)::bigint as sum_tokens2
from step_token_counts s
where exists (select 1 from _fold_cells c
              where c.run = s.run and c.step = s.step and c.environment is not distinct from s.environment)
group by all;

delete from step_term_counts s
where exists (select 1 from _fold_cells c
              where c.run = s.run and c.step = s.step and c.environment is not distinct from s.environment);
delete from step_token_counts s
where exists (select 1 from _fold_cells c
              where c.run = s.run and c.step = s.step and c.environment is not distinct from s.environment);
insert into step_term_counts select * from _folded_terms;
insert into step_token_counts select * from _folded_tokens;
drop table _fold_cells;
drop table _folded_terms;
drop table _folded_tokens;
