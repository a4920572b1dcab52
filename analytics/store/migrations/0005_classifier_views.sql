-- 0005_classifier_views: public views over the classifier results of 0003_classifiers (written by
-- `cotwatch classify apply`), in the schema `api` beside the views of 0004 (docs/sql.md).
--
-- Which version counts: a classifier name may have several registered versions (retrained
-- artifacts). For each (classifier name, run) the views show the most recently registered version
-- that has results in that run — the same rule as `classifiers/sql/latest_classifier.sql` — so
-- re-applying a retrained classifier to a run replaces its rows there as a whole.
create or replace view api.classifier_versions as
with latest as (
    select r.name, t.run, max(r.classifier_id) as classifier_id
    from main.classifier_registry r
    join main.classifier_transcripts c on c.classifier_id = r.classifier_id
    join main.transcripts t on t.pk = c.transcript_pk
    group by r.name, t.run
)
select
    l.name            as classifier,
    l.run,
    r.version,
    r.threshold,
    r.embedding_model,
    r.artifact_sha256,
    r.registered_at,
    r.card
from latest l
join main.classifier_registry r on r.classifier_id = l.classifier_id;

create or replace view api.sentence_scores as
with latest as (
    select r.name, t.run, max(r.classifier_id) as classifier_id
    from main.classifier_registry r
    join main.classifier_transcripts c on c.classifier_id = r.classifier_id
    join main.transcripts t on t.pk = c.transcript_pk
    group by r.name, t.run
)
select
    t.id                 as transcript_id,
    t.run,
    t.step,
    l.name               as classifier,
    -- offsets are code-point indices into the segment text; DuckDB's substring counts code points too
    substring(g.text, s.start_char + 1, s.end_char - s.start_char) as sentence,
    s.score::double      as score,
    s.flagged,
    t.environment,
    s.ordinal,
    s.sentence           as sentence_index
from main.classifier_sentences s
join main.transcripts t on t.pk = s.transcript_pk
join latest l on l.classifier_id = s.classifier_id and l.run = t.run
join main.segments g on g.transcript_pk = s.transcript_pk and g.ordinal = s.ordinal;

create or replace view api.transcript_flags as
with latest as (
    select r.name, t.run, max(r.classifier_id) as classifier_id
    from main.classifier_registry r
    join main.classifier_transcripts c on c.classifier_id = r.classifier_id
    join main.transcripts t on t.pk = c.transcript_pk
    group by r.name, t.run
)
select
    t.id                 as transcript_id,
    t.run,
    t.step,
    t.environment,
    l.name               as classifier,
    c.max_score::double  as max_score,
    c.flagged,
    c.n_sentences::bigint as sentences,
    c.n_flagged::bigint   as flagged_sentences
from main.classifier_transcripts c
join main.transcripts t on t.pk = c.transcript_pk
join latest l on l.classifier_id = c.classifier_id and l.run = t.run;

comment on view api.classifier_versions is 'Which classifier version the other classifier views show, per classifier and run: the most recently registered one with results in that run.';
comment on column api.classifier_versions.classifier is 'Classifier name (eval_awareness, grader_seeking, ...).';
comment on column api.classifier_versions.run is 'Training run scored with this version.';
comment on column api.classifier_versions.version is 'Version string of the trained artifact.';
comment on column api.classifier_versions.threshold is 'A sentence is flagged when its score is at least this.';
comment on column api.classifier_versions.embedding_model is 'Sentence-embedding model the classifier was trained on.';
comment on column api.classifier_versions.artifact_sha256 is 'SHA-256 of the .skops artifact file.';
comment on column api.classifier_versions.registered_at is 'When the version was first used on this store.';
comment on column api.classifier_versions.card is 'The artifact''s model card (JSON): training data, metrics, thresholds.';

comment on view api.sentence_scores is 'One row per reasoning sentence scored by a classifier (latest version per classifier and run). Sentences the cascade''s first stage stopped score 0.';
comment on column api.sentence_scores.transcript_id is 'Transcript id (unique within run).';
comment on column api.sentence_scores.run is 'Training run.';
comment on column api.sentence_scores.step is 'Checkpoint step.';
comment on column api.sentence_scores.classifier is 'Classifier name (eval_awareness, grader_seeking, ...).';
comment on column api.sentence_scores.sentence is 'The sentence text, cut from its reasoning segment.';
comment on column api.sentence_scores.score is 'Calibrated probability that the sentence shows the trait (0 when stopped by the first stage).';
comment on column api.sentence_scores.flagged is 'score >= the classifier version''s threshold.';
comment on column api.sentence_scores.environment is 'RL environment; NULL when unknown.';
comment on column api.sentence_scores.ordinal is 'Segment the sentence is in (reasoning.ordinal).';
comment on column api.sentence_scores.sentence_index is 'Position of the sentence within its segment, from 0.';

comment on view api.transcript_flags is 'One row per transcript scored by a classifier (latest version per classifier and run): its highest sentence score and whether any sentence was flagged.';
comment on column api.transcript_flags.transcript_id is 'Transcript id (unique within run).';
comment on column api.transcript_flags.run is 'Training run.';
comment on column api.transcript_flags.step is 'Checkpoint step.';
comment on column api.transcript_flags.environment is 'RL environment; NULL when unknown.';
comment on column api.transcript_flags.classifier is 'Classifier name (eval_awareness, grader_seeking, ...).';
comment on column api.transcript_flags.max_score is 'Highest sentence score in the transcript''s reasoning; NULL when it has no reasoning sentence.';
comment on column api.transcript_flags.flagged is 'True when any sentence is flagged. A raw rate of flags is not the prevalence: `cotwatch awareness` corrects it for classifier error.';
comment on column api.transcript_flags.sentences is 'Reasoning sentences scored.';
comment on column api.transcript_flags.flagged_sentences is 'Sentences flagged.';
