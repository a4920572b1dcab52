-- term_examples: for each term id in $ids, the first transcript (lowest pk) of run $run, among
-- the steps in $steps, whose text in scope $scope holds it: (term_id, transcript_pk).
with hits as (
    select d.transcript_pk, unnest(d.term_ids) as term_id
    from doc_term_lists d
    join transcripts t on t.pk = d.transcript_pk
    where t.run = $run and list_contains($steps, t.step) and d.scope = $scope
      and list_has_any(d.term_ids, $ids)
)
select term_id, min(transcript_pk) as transcript_pk
from hits
where list_contains($ids, term_id)
group by term_id;
