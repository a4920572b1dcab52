-- scout_results_insert: store the good rows of _scout_staged (scout_results_stage) that are not
-- stored yet (by result_id; the first of repeated ones); returns one row (added, duplicates).
create or replace temp table _scout_new as
select * exclude (rn)
from (
    select *, row_number() over (partition by result_id order by row_number) as rn
    from _scout_staged
    where reason is null
)
where rn = 1 and result_id not in (select result_id from scout_results);

insert into scout_results by name
select result_id, scan_id, scanner, scanner_version, scanner_package_version, scanner_params, scout_transcript_id,
       transcript_id, source_type, task_set, label, value, value_type, value_number, answer, explanation, metadata,
       result_references, scan_error, scan_total_tokens, scanned_at, source_file
from _scout_new;

select (select count(*) from _scout_new) as added,
       (select count(*) from _scout_staged where reason is null) - (select count(*) from _scout_new) as duplicates;
