-- termcounts_merge: add new terms to the vocabulary, then append the partial counts.
insert into term_vocab (term_id, term)
select (select coalesce(max(term_id), 0) from term_vocab) + row_number() over (order by term), term
from (select distinct term from _part_terms) p
where not exists (select 1 from term_vocab v where v.term = p.term);

insert into doc_terms (transcript_pk, scope, term_id, n)
select p.transcript_pk, p.scope, v.term_id, p.n
from _part_terms p join term_vocab v using (term);

insert into doc_tokens (transcript_pk, scope, tokens)
select transcript_pk, scope, tokens from _part_tokens;
