-- termcounts_merge: append kernel partials (_part_terms, _part_tokens) to the per-transcript
-- tables and their per-cell sums to the step tables (compacted by termcounts_compact).
insert into doc_terms (transcript_pk, scope, term, n)
select transcript_pk, scope, term, n from _part_terms;

insert into doc_tokens (transcript_pk, scope, tokens)
select transcript_pk, scope, tokens from _part_tokens;

insert into step_term_counts
select t.run, t.step, t.environment, p.scope, p.term,
       sum(p.n)::bigint, count(*)::bigint, sum(p.n::bigint * p.n)::bigint, sum(p.n::bigint * d.tokens)::bigint
from _part_terms p
join _part_tokens d on d.transcript_pk = p.transcript_pk and d.scope = p.scope
join transcripts t on t.pk = p.transcript_pk
group by all;

insert into step_token_counts
select t.run, t.step, t.environment, d.scope,
       count(*)::bigint, count(*) filter (where d.tokens > 0)::bigint,
       sum(d.tokens)::bigint, sum(d.tokens * d.tokens)::bigint
from _part_tokens d
join transcripts t on t.pk = d.transcript_pk
group by all;
