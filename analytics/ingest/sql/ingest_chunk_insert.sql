-- ingest_chunk_insert: store the chunk's new records (_cd decision 'new') in the file's open
-- transaction, with store pks $base + the file-local key: transcripts, the staged segments (_cs:
-- chat and Python records) and the segments of plain JSONL records, whose text is taken from
-- their line (_lines) again ($reasoning_path, $output_path: where the mapping puts them). Returns
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

insert into segments (transcript_pk, ordinal, role, kind, text, redacted)
select $base + line, seg.ordinal, 'assistant', seg.kind, seg.text, false
from (
    select line, unnest(list_filter([
               {'ordinal': 0, 'kind': 'reasoning', 'text': v[1], 'keep': has_reasoning},
               {'ordinal': case when has_reasoning then 1 else 0 end, 'kind': 'output', 'text': v[2], 'keep': has_output}
           ], lambda x: x.keep)) as seg
    from (
        select l.line, json_extract_string(l.text, [$reasoning_path, $output_path]) as v,
               f.ty[9] = 2 as has_reasoning, f.output_digest is not null as has_output
        from _lines l
        join _jf f using (line)
        where f.shape = 'plain' and l.line in (select pk from _cd where decision = 'new')
    )
);

select count(*) from _cd where decision = 'new';
