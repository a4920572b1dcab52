-- ingest_jsonl_parse: the chunk's lines that the scanner passed (_lines: line, text, ty; null text
-- = not for DuckDB) parsed by DuckDB once, into _jf. ty holds the JSON type of each record field
-- as the scanner saw it (_jsonscan.c: 0 absent, 1 null, 2 string, 3 integer within int64,
-- 4 larger integer, 5 other number, 6 boolean, 7 object, 8 array) in records.RECORD_FIELDS
-- order: 1 id, 2 run, 3 step, 4 environment, 5 epoch, 6 covert_action, 7 score, 8 metadata,
-- 9 reasoning, 10 output, 11 messages; $value_paths are the same fields' JSON paths (after
-- --field), $extra_paths the keys --field maps into the metadata (ex: their raw JSON).
-- shape is 'plain' or 'chat' for the records the SQL path stores itself, null for every other
-- record (parsed and judged in Python by records.record_from_json, which is the definition these
-- rules follow: strings where strings are due, integers in range, no <think> tags to split...).
-- The plain shape's text is not kept: its segments' digests (ingest_hash_macros) and whether it
-- has any text ($nonblank) are computed here, and ingest_chunk_insert takes the text from the
-- line again for the records it stores.
create or replace temp table _jf as
select line, ty, ex, id, run, step, environment, epoch, covert_action, score, metadata, shape,
       case when shape = 'chat' then messages end as messages,
       case when shape = 'plain' and ty[9] = 2 then cw_segment_digest('reasoning', 'assistant', false, reasoning) end
           as reasoning_digest,
       case when shape = 'plain' and ty[10] = 2 and regexp_matches(output, $nonblank)
           then cw_segment_digest('output', 'assistant', false, output) end as output_digest,
       case when shape = 'plain' then coalesce(regexp_matches(reasoning, $nonblank), false)
                                      or coalesce(regexp_matches(output, $nonblank), false) end as has_text
from (
    select line, ty, ex,
           v[1] as id, v[2] as run, v[3] as step, v[4] as environment, v[5] as epoch, v[6] as covert_action,
           v[7] as score, v[8] as metadata, v[9] as reasoning, v[10] as output, v[11] as messages,
           case when ty[1] in (0, 1, 2, 3) and ty[2] in (0, 1, 2, 3) and ty[4] in (0, 1, 2, 3)
                 and ty[3] in (0, 1, 3)
                 and (ty[5] in (0, 1) or (ty[5] = 3 and try_cast(v[5] as integer) is not null))
                 and ty[6] in (0, 1, 6)
                 and (ty[7] in (0, 1) or (ty[7] in (3, 5) and coalesce(isfinite(try_cast(v[7] as double)), false)))
                 and ty[8] in (0, 1, 7)
           then case
               when ty[11] in (0, 1)
                    and ((ty[9] = 2 and ty[10] in (0, 1, 2)) or (ty[9] in (0, 1) and ty[10] = 2))
                    and (ty[10] <> 2 or not (contains(v[10], '<think>') or contains(v[10], '</think>')))
                   then 'plain'
               when ty[9] in (0, 1) and ty[11] = 8
                   then 'chat'
               end
           end as shape
    from (
        select line, ty,
               json_extract_string(text, $value_paths) as v,
               case when len($extra_paths::varchar[]) > 0 then json_extract(text, $extra_paths::varchar[]) end as ex
        from _lines
        where text is not null
    )
);
