-- latest_classifier: the most recently registered version of classifier $name that has results
-- (for a run when $run is given). Returns classifier_id, threshold, artifact_sha256, card.
select r.classifier_id, r.threshold, r.artifact_sha256, r.card
from classifier_registry r
where r.name = $name
  and exists (
      select 1 from classifier_transcripts c join transcripts t on t.pk = c.transcript_pk
      where c.classifier_id = r.classifier_id and ($run is null or t.run = $run)
  )
order by r.classifier_id desc
limit 1
