-- term_doc_frequency: (term_id, term, transcripts using it) for the counted tokens in $terms, over
-- every run and scope — rarest first (the most selective candidate filter comes first).
select v.term_id, v.term, coalesce(sum(s.docs_with_term), 0)::bigint as docs
from term_vocab v
left join step_term_counts s on s.term = v.term
where list_contains($terms, v.term)
group by v.term_id, v.term
order by docs, v.term;
