-- jobs_pick: from the job's row partials (registered as _p_rows(run, transcript_id,
-- content_hash, source, part)), one part per transcript (a transcript seen in two shards or two
-- retried batches counts once). Creates _job_pick(run, transcript_id, part, source, hashes,
-- content_hash); hashes > 1 means the same (run, id) came with different content.
create or replace temp table _job_pick as
select
    run,
    transcript_id,
    min(part)                    as part,
    arg_min(source, part)        as source,
    count(distinct content_hash) as hashes,
    min(content_hash)            as content_hash
from _p_rows
group by run, transcript_id;
