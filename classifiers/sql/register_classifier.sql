-- register_classifier: add an artifact to the registry unless (name, sha256) is known.
insert into classifier_registry
    (classifier_id, name, version, artifact_sha256, embedding_model, threshold, card)
select coalesce((select max(classifier_id) from classifier_registry), 0) + 1,
       $name, $version, $sha256, $embedding_model, $threshold, $card
where not exists (
    select 1 from classifier_registry where name = $name and artifact_sha256 = $sha256
)
