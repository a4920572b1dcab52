-- ingest_jsonl_plain: stage the plain-shaped records of _jf (reasoning and/or output strings)
-- into _ct, with the digests of their segments and whether they have text (computed by
-- ingest_jsonl_parse; their text is taken from the line again when they are stored). Run, step
-- and environment come from $run, $step, $environment where a record lacks them; a string with no
-- character outside Python's whitespace ($nonblank matches one such character) counts as absent.
insert into _ct (pk, line, id, run, step, environment, epoch, covert_action, score, meta_raw, meta_extra,
                 digests, has_text)
select line, line,
       case when regexp_matches(id, $nonblank) then id end,
       coalesce(case when regexp_matches(run, $nonblank) then run end, $run),
       coalesce(try_cast(step as bigint), $step),
       coalesce(case when regexp_matches(environment, $nonblank) then environment end, $environment),
       try_cast(epoch as integer),
       try_cast(covert_action as boolean),
       try_cast(score as double),
       metadata,
       case when len($extra_keys::varchar[]) > 0 then
           '{' || array_to_string(list_filter(
               list_transform(range(1, len($extra_keys::varchar[]) + 1),
                              lambda i: case when ex[i] is not null then to_json(($extra_keys::varchar[])[i]) || ':' || ex[i] end),
               lambda x: x is not null), ',') || '}'
       end,
       coalesce(reasoning_digest, '') || coalesce(output_digest, ''),
       has_text
from _jf
where shape = 'plain';
