-- termcounts_vocab: add the terms of _batch_vocab(idx, term) missing from term_vocab (new ids
-- after the largest), then return (idx, term_id) for every row of _batch_vocab.
insert into term_vocab (term_id, term)
select (select coalesce(max(term_id), 0) from term_vocab) + row_number() over (order by b.term), b.term
from _batch_vocab b
where not exists (select 1 from term_vocab v where v.term = b.term);

select b.idx, v.term_id
from _batch_vocab b
join term_vocab v on v.term = b.term;
