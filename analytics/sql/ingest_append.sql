-- ingest_append: append one Arrow batch (_batch_t, _batch_s, keyed by a batch-local seq) to the
-- store inside the file's transaction, numbering transcripts $base + seq + 1. Duplicates are
-- removed when the file ends (ingest_finish).
insert into transcripts (pk, id, run, step, environment, epoch, source_file, source_line,
                         source_entry, content_hash, covert_action, score, metadata)
select $base + seq + 1, id, run, step, environment, epoch, source_file, source_line, source_entry,
       content_hash, covert_action, score, cast(metadata as json)
from _batch_t;

insert into segments (transcript_pk, ordinal, role, kind, text, redacted)
select $base + seq + 1, ordinal, role, kind, text, redacted
from _batch_s;
