-- import_transcript_labels: record the samples (cw_samples) and upsert the transcript labels
-- (cw_labels) of `cotwatch label import`; a re-imported label replaces the earlier one.
insert or replace into label_samples (sample, classifier, run, design, population, size, seed)
select sample, classifier, run, design, population, size, seed from cw_samples;
insert or replace into transcript_labels (classifier, transcript_pk, label, sample, note)
select classifier, transcript_pk, label, sample, note from cw_labels;
