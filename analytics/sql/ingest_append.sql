-- ingest_append: append one Arrow batch (_batch_t, _batch_s) to the store, inside the file's
-- transaction. Duplicates are removed when the file ends (ingest_finish).
insert into transcripts (pk, id, run, step, environment, epoch, source_file, source_line,
                         source_entry, content_hash, covert_action, score, metadata)
select pk, id, run, step, environment, epoch, source_file, source_line, source_entry,
       content_hash, covert_action, score, cast(metadata as json)
from _batch_t;

insert into segments (transcript_pk, ordinal, role, kind, text, redacted)
select transcript_pk, ordinal, role, kind, text, redacted from _batch_s;
