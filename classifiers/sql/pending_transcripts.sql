-- pending_transcripts: transcripts of a run (all runs when $run is null) that have no result yet
-- for classifier $classifier_id. Returns pk, in pk order.
select t.pk
from transcripts t
where ($run is null or t.run = $run)
  and not exists (
      select 1 from classifier_transcripts c
      where c.classifier_id = $classifier_id and c.transcript_pk = t.pk
  )
order by t.pk
