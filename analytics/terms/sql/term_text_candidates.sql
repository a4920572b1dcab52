-- term_text_candidates: the transcripts (pk, ascending) whose token lists in stored scopes $scopes
-- hold the term ids $i1..$i5 (a token sequence's rarest tokens, rarest first; a null id is no
-- condition): the only transcripts that can hold the sequence. Filters: $runs (list; null = all),
-- $environment, $steps (list; null = all).
-- (A chain of list_contains is ~30x faster than list_has_all here: each runs on the rows the
-- previous one kept.)
select distinct d.transcript_pk
from doc_term_lists d
join transcripts t on t.pk = d.transcript_pk
where list_contains($scopes, d.scope)
  and ($i1 is null or list_contains(d.term_ids, $i1::integer))
  and ($i2 is null or list_contains(d.term_ids, $i2::integer))
  and ($i3 is null or list_contains(d.term_ids, $i3::integer))
  and ($i4 is null or list_contains(d.term_ids, $i4::integer))
  and ($i5 is null or list_contains(d.term_ids, $i5::integer))
  and ($runs is null or list_contains($runs, t.run))
  and ($environment is null or t.environment = $environment)
  and ($steps is null or list_contains($steps, t.step))
order by d.transcript_pk;
