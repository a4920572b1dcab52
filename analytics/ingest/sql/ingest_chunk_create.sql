-- ingest_chunk_create: the transcripts of one staged chunk (_ct), from the Arrow tables the ingest
-- passes in: _xt, records the compiled extractor took (_jsonscan.c; rows with ok = false were left
-- to Python; metadata made canonical by staging._canonical_metadata, null with has_metadata when
-- it could not be read: ingest_chunk_check rejects the record), and _rt, records parsed in Python
-- (records.records_table; metadata canonical already). pk is a file-local key (the line number, or
-- the record's position); the store's pk is the file's base + pk. Run, step and environment come
-- from $run, $step, $environment where a record lacks them.
select pk, line, entry, id, coalesce(run, $run) as run, coalesce(step, $step) as step,
       coalesce(environment, $environment) as environment, epoch, covert_action, score, metadata, has_metadata
from _xt
where ok
union all by name
select pk, line, entry, id, coalesce(run, $run) as run, coalesce(step, $step) as step,
       coalesce(environment, $environment) as environment, epoch, covert_action, score,
       metadata, false as has_metadata
from _rt;
