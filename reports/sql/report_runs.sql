-- report_runs: every run with its transcript count, steps and latest ingest time; the report's
-- run selection (and `--since`) works from this. Reads the internal table (the public view has no
-- ingest time): unqualified, it resolves through the Store's search path.
-- Parameters: $since (TIMESTAMP or NULL) — keep only runs with a transcript ingested at or after it.
-- Returns: run, transcripts, steps, environments, first_step, last_step, last_ingested_at
select
    run,
    count(*)::bigint                  as transcripts,
    count(distinct step)::bigint      as steps,
    count(distinct environment)::bigint as environments,
    min(step)                         as first_step,
    max(step)                         as last_step,
    max(ingested_at)                  as last_ingested_at
from transcripts
group by run
having $since is null or max(ingested_at) >= $since
order by run;
