-- ingest_chunk_create: stage one chunk of a file from the Arrow tables the ingest registers:
-- _xt/_xs, records the compiled extractor took (_jsonscan.c; rows with ok = false were left to
-- Python; metadata still raw JSON in meta_raw, --field's metadata keys in meta_extra) and _rt/_rs,
-- records parsed in Python (records.records_table; metadata canonical already). Creates _ct (the
-- transcripts; pk is the file-local key — the line number, or the record's position — and the
-- store's pk is the file's base + pk), with run, step and environment from $run, $step,
-- $environment where a record lacks them, and _cs, a view of the segments (no copy of the text).
create or replace temp table _ct as
select pk, line, entry, id, coalesce(run, $run) as run, coalesce(step, $step) as step,
       coalesce(environment, $environment) as environment, epoch, covert_action, score,
       cast(null as varchar) as metadata, meta_raw, meta_extra
from _xt
where ok
union all by name
select pk, line, entry, id, coalesce(run, $run) as run, coalesce(step, $step) as step,
       coalesce(environment, $environment) as environment, epoch, covert_action, score,
       metadata, cast(null as varchar) as meta_raw, cast(null as varchar) as meta_extra
from _rt;

create or replace temp view _cs as
select pk, ordinal, role, kind, text, redacted from _xs
union all
select pk, ordinal, role, kind, text, redacted from _rs;
