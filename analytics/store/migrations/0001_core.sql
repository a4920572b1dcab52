-- 0001_core: runs, checkpoints, transcripts, segments, rejects and the ingest ledger.
create table runs (
    run         varchar primary key,
    created_at  timestamp default current_timestamp
);

create table checkpoints (
    run   varchar not null,
    step  bigint  not null,
    name  varchar,
    primary key (run, step)
);

create table transcripts (
    pk            bigint not null,
    id            varchar not null,
    run           varchar not null,
    step          bigint  not null,
    environment   varchar,
    epoch         integer,
    source_file   varchar,
    source_line   bigint,
    source_entry  varchar,
    content_hash  varchar not null,
    covert_action boolean,
    score         double,
    metadata      json,
    ingested_at   timestamp default current_timestamp
);

create table segments (
    transcript_pk bigint  not null,
    ordinal       integer not null,
    role          varchar,
    kind          varchar not null,
    text          varchar not null,
    redacted      boolean not null default false
);

create table rejects (
    file        varchar not null,
    line        bigint,
    entry       varchar,
    reason      varchar not null,
    rejected_at timestamp default current_timestamp
);

create table ingested_files (
    file        varchar not null,
    format      varchar not null,
    added       bigint  not null,
    duplicates  bigint  not null,
    rejected    bigint  not null,
    finished_at timestamp default current_timestamp
);
