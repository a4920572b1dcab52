-- classifier_id: the registry id of an artifact (by name and sha256).
select classifier_id from classifier_registry where name = $name and artifact_sha256 = $sha256
