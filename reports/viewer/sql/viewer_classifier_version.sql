-- viewer_classifier_version: version, threshold and name of classifier version $classifier_id.
select classifier_id, name, version, threshold from classifier_registry where classifier_id = $classifier_id;
