-- viewer_transcript: the transcript $id (in run $run, or in any run when $run is NULL): its
-- fields, at most $limit rows (more than one means the id exists in several runs).
select pk, id, run, step, environment, epoch, covert_action, score, source_file, source_line,
       source_entry, metadata::varchar as metadata, content_hash, ingested_at
from transcripts
where id = $id and ($run is null or run = $run)
order by run
limit $limit;
