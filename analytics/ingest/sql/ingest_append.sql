-- ingest_append: stage one Arrow batch (_batch_t, _batch_s, keyed by a batch-local seq),
-- numbering its transcripts $base + seq + 1.
insert into _ingest_stage_t
select $base + seq + 1, id, run, step, environment, epoch, source_file, source_line, source_entry,
       content_hash, covert_action, score, metadata
from _batch_t;

insert into _ingest_stage_s
select $base + seq + 1, ordinal, role, kind, text, redacted
from _batch_s;
