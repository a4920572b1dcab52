-- 0011_transcript_decision: the transcript-level decision of classifiers (format-2 artifacts) and
-- the user's own transcript labels for prevalence (docs/classifiers.md).
--
-- classifier_transcripts.flagged now holds the transcript decision (length-aware, calibrated on
-- real transcripts) instead of "any sentence above the sentence threshold"; transcript_score is
-- its score (the chance that an unaware transcript of that length stays below the highest
-- sentence score). A sentence is flagged when it scores at least the threshold inside a flagged
-- transcript. Rows written by older artifacts keep transcript_score NULL.
alter table classifier_transcripts add column transcript_score double;

-- A random sample of a run's transcripts drawn by `cotwatch label export --transcripts N`; the
-- design is recorded so that only uniform random samples feed prediction-powered estimates.
create table label_samples (
    sample       varchar primary key,   -- id printed in every exported line
    classifier   varchar not null,
    run          varchar,               -- NULL: drawn from every run
    design       varchar not null,      -- 'uniform' (simple random sample without replacement)
    population   bigint  not null,      -- transcripts the sample was drawn from
    size         bigint  not null,
    seed         bigint  not null,
    created_at   timestamp default current_timestamp
);

-- Human labels of whole transcripts (is the transcript eval-aware?), from `cotwatch label import`.
create table transcript_labels (
    classifier     varchar not null,
    transcript_pk  bigint  not null,
    label          boolean not null,
    sample         varchar not null,    -- label_samples.sample the transcript was drawn in
    labeller       varchar,
    note           varchar,
    labelled_at    timestamp default current_timestamp,
    primary key (classifier, transcript_pk)
);

create or replace view main.transcript_flags as
with latest as (
    select r.name, t.run, max(r.classifier_id) as classifier_id
    from internal.classifier_registry r
    join internal.classifier_transcripts c on c.classifier_id = r.classifier_id
    join internal.transcripts t on t.pk = c.transcript_pk
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
    c.n_flagged::bigint   as flagged_sentences,
    c.transcript_score   as transcript_score
from internal.classifier_transcripts c
join internal.transcripts t on t.pk = c.transcript_pk
join latest l on l.classifier_id = c.classifier_id and l.run = t.run;

create or replace view api.transcript_flags as select * from main.transcript_flags;

comment on view main.transcript_flags is 'One row per transcript scored by a classifier (latest version per classifier and run): its highest sentence score, its transcript score and the transcript decision.';
comment on column main.transcript_flags.transcript_id is 'Transcript id (unique within run).';
comment on column main.transcript_flags.run is 'Training run.';
comment on column main.transcript_flags.step is 'Checkpoint step.';
comment on column main.transcript_flags.environment is 'RL environment; NULL when unknown.';
comment on column main.transcript_flags.classifier is 'Classifier name (eval_awareness, grader_seeking, ...).';
comment on column main.transcript_flags.max_score is 'Highest sentence score in the transcript''s reasoning; NULL when it has no reasoning sentence.';
comment on column main.transcript_flags.flagged is 'The transcript decision: the highest sentence score passes a threshold that grows with the number of sentences, calibrated on real transcripts. A raw rate of flags is not the prevalence: `cotwatch awareness` corrects it.';
comment on column main.transcript_flags.sentences is 'Reasoning sentences scored.';
comment on column main.transcript_flags.flagged_sentences is 'Sentences flagged (at least the threshold, inside a flagged transcript).';
comment on column main.transcript_flags.transcript_score is 'Chance that an unaware transcript of this length stays below its highest sentence score (NULL for results of older artifacts).';
comment on view api.transcript_flags is 'Alias of transcript_flags (main.transcript_flags), kept for queries written before migration 0008; new queries use the bare name.';
comment on column main.sentence_scores.flagged is 'score >= the classifier version''s threshold, inside a transcript the classifier flagged.';
