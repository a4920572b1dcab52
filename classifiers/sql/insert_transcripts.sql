-- insert_transcripts: per-transcript results for the transcripts in cw_chunk(pk), aggregated
-- in the database from the sentences just inserted for $classifier_id.
insert into classifier_transcripts
    (classifier_id, transcript_pk, n_sentences, n_candidates, max_score, flagged, n_flagged)
select
    $classifier_id,
    c.pk,
    count(s.transcript_pk)::integer,
    coalesce(sum(case when s.stage = 2 then 1 else 0 end), 0)::integer,
    max(s.score),
    coalesce(bool_or(s.flagged), false),
    coalesce(sum(case when s.flagged then 1 else 0 end), 0)::integer
from cw_chunk c
left join classifier_sentences s
    on s.classifier_id = $classifier_id and s.transcript_pk = c.pk
group by c.pk
