-- 0007_sparse_counts: doc_term_lists stores only the counts above 1. In each row the terms that
-- occur more than once come first in term_ids, `counts` holds their counts in the same order,
-- and every later term of term_ids occurs exactly once (in CoT text about two thirds of a
-- transcript's distinct tokens occur once, so a third fewer values are stored and appended).
-- The per-entry count is list_resize(counts, len(term_ids), 1)[i]; the doc_terms view keeps its
-- documented shape (one row per transcript, scope and term with n >= 1). Existing rows are
-- rewritten in place.
update doc_term_lists
set term_ids = list_concat(list_filter(term_ids, lambda x, i: counts[i] > 1),
                           list_filter(term_ids, lambda x, i: counts[i] = 1)),
    counts   = list_filter(counts, lambda x: x > 1);

create or replace view doc_terms as
select l.transcript_pk, l.scope, v.term, l.n
from (
    select transcript_pk, scope, unnest(term_ids) as term_id,
           unnest(list_resize(counts, len(term_ids), 1)) as n
    from doc_term_lists
) l
join term_vocab v on v.term_id = l.term_id;
