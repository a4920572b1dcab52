-- ingest_chunk_insert: store the chunk's new records (_cd decision 'new') in the file's open
-- transaction, with store pks $base + the file-local key: their transcripts and segments. Returns
-- how many transcripts it stored.
insert into transcripts (pk, id, run, step, environment, epoch, source_file, source_line,
                         source_entry, content_hash, covert_action, score, metadata)
select $base + t.pk, d.id, t.run, t.step, t.environment, t.epoch, $file, t.line, t.entry, d.content_hash,
       t.covert_action, t.score, cast(t.metadata as json)
from _ct t
join _cd d using (pk)
where d.decision = 'new';

insert into segments (transcript_pk, ordinal, role, kind, text, redacted)
select $base + s.pk, s.ordinal, s.role, s.kind, s.text, s.redacted
from _cs s
where s.pk in (select pk from _cd where decision = 'new');

select count(*) from _cd where decision = 'new';
