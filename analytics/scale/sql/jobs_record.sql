-- jobs_record: add a merged job to the ledger.
insert into jobs (job_id, kind, engine, input, partials, shards, parts, transcripts, added, merged,
                  skipped, started_at, finished_at)
values ($job_id, $kind, $engine, $input, $partials, $shards, $parts, $transcripts, $added, $merged,
        $skipped, $started_at, $finished_at);
