-- 0006_jobs: the ledger of distributed jobs merged into the store (analytics/distributed.py).
-- A job's partials are merged in one transaction that also inserts its row here, so a job id
-- that is already present is never merged again (a repeated job cannot double-count), and a job
-- without a _SUCCESS marker is never merged at all. Documented in docs/scale.md.
create table jobs (
    job_id          varchar primary key,
    kind            varchar not null,      -- 'terms' | 'scores'
    engine          varchar not null,      -- 'duckdb' | 'ray'
    input           varchar not null,      -- the --input the job read (path, URI or glob)
    partials        varchar not null,      -- the job directory its partials were written to
    shards          integer not null,      -- shard files read
    parts           integer not null,      -- partial batches written
    transcripts     bigint  not null,      -- distinct (run, transcript_id) in the job
    added           bigint  not null,      -- of those, inserted into the store by the merge
    merged          bigint  not null,      -- of those, whose results the merge stored
    skipped         bigint  not null,      -- of those, already holding results (left alone)
    started_at      timestamp,
    finished_at     timestamp,
    merged_at       timestamp default current_timestamp
);
