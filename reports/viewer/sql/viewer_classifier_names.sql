-- viewer_classifier_names: the names of the registered classifiers, in order.
select distinct name from classifier_registry order by name;
