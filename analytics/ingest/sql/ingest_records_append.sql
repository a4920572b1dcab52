-- ingest_records_append: stage records parsed in Python (_rec_t, _rec_s: the tables of
-- records.records_table; metadata already canonical) into the chunk, filling run, step and
-- environment from $run, $step, $environment where a record lacks them.
insert into _ct (pk, line, entry, id, run, step, environment, epoch, covert_action, score, metadata)
select pk, line, entry, id, coalesce(run, $run), coalesce(step, $step), coalesce(environment, $environment),
       epoch, covert_action, score, metadata
from _rec_t;

insert into _cs select pk, ordinal, role, kind, text, redacted from _rec_s;
