-- scout_results_stage: one row per Scout scan result in the temp table _scout_staged, from the
-- registered Arrow table _scout_in (the columns of analytics/ingest/scout.py RESULT_COLUMNS plus
-- cotwatch_id, the id cotwatch gives the scanned transcript, and row_number, 1-based). A row whose
-- value_type is 'resultset' (a scanner that returned a list) becomes one row per item of its JSON
-- list. result_id is Scout's result uuid (else a key made of scan, scanner, transcript, row and
-- label); reason says why a row is bad (NULL when it is good). $file is the file's display name.
create or replace temp table _scout_staged as
with plain as (
    select row_number, scan_id, scanner_name, scanner_version, scanner_package_version, scanner_params,
           transcript_id, cotwatch_id, transcript_source_type, transcript_task_set,
           uuid, label, value, value_type, answer, explanation, metadata,
           to_json(list_concat(coalesce(try_cast(message_references as json[]), []),
                               coalesce(try_cast(event_references as json[]), [])))::varchar as refs,
           scan_error, scan_total_tokens, "timestamp",
           null::varchar as problem
    from _scout_in
    where value_type is distinct from 'resultset'
), sets as (
    select *, try_cast(value as json[]) as items
    from _scout_in
    where value_type = 'resultset'
), items as (
    select s.row_number, s.scan_id, s.scanner_name, s.scanner_version, s.scanner_package_version, s.scanner_params,
           s.transcript_id, s.cotwatch_id, s.transcript_source_type, s.transcript_task_set,
           s.scan_error, s.scan_total_tokens, s."timestamp",
           unnest(s.items) as item
    from sets s
    where s.items is not null
), expanded as (
    select row_number, scan_id, scanner_name, scanner_version, scanner_package_version, scanner_params,
           transcript_id, cotwatch_id, transcript_source_type, transcript_task_set,
           item ->> 'uuid' as uuid,
           item ->> 'label' as label,
           item ->> 'value' as value,
           case json_type(item -> 'value')
               when 'BOOLEAN' then 'boolean'
               when 'BIGINT' then 'number' when 'UBIGINT' then 'number' when 'DOUBLE' then 'number'
               when 'VARCHAR' then 'string' when 'ARRAY' then 'array' when 'OBJECT' then 'object'
               else 'null'
           end as value_type,
           item ->> 'answer' as answer,
           item ->> 'explanation' as explanation,
           (item -> 'metadata')::varchar as metadata,
           (item -> 'references')::varchar as refs,
           scan_error, scan_total_tokens, "timestamp",
           null::varchar as problem
    from items
), broken as (
    select row_number, scan_id, scanner_name, scanner_version, scanner_package_version, scanner_params,
           transcript_id, cotwatch_id, transcript_source_type, transcript_task_set,
           null as uuid, null as label, value, value_type, null as answer, null as explanation, null as metadata,
           null as refs, scan_error, scan_total_tokens, "timestamp",
           'a resultset whose value is not a JSON list' as problem
    from sets
    where items is null
), rows as (
    select * from plain
    union all by name select * from expanded
    union all by name select * from broken
)
select
    coalesce(uuid, scan_id || '/' || scanner_name || '/' || transcript_id || '/' || row_number || '/' || coalesce(label, ''))
        as result_id,
    row_number, scan_id, scanner_name as scanner, scanner_version, scanner_package_version,
    try_cast(scanner_params as json) as scanner_params,
    transcript_id as scout_transcript_id, cotwatch_id as transcript_id,
    transcript_source_type as source_type, transcript_task_set as task_set,
    label, value, value_type,
    case when value_type = 'boolean' then (case lower(value) when 'true' then 1.0 when 'false' then 0.0 end)
         when value_type = 'number' then try_cast(value as double)
    end as value_number,
    answer, explanation, try_cast(metadata as json) as metadata, try_cast(refs as json) as result_references,
    scan_error, scan_total_tokens::bigint as scan_total_tokens, "timestamp" as scanned_at,
    $file as source_file,
    coalesce(problem,
             case when scan_id is null then 'no scan_id'
                  when scanner_name is null then 'no scanner_name'
                  when transcript_id is null or cotwatch_id is null then 'no transcript_id'
             end) as reason
from rows;
