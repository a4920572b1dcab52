-- ingest_jsonl_empty: an empty _jf (no line of the chunk parsed by DuckDB), with the columns
-- ingest_jsonl_parse gives it, for the statements that read it.
create or replace temp table _jf as
select null::bigint as line, null::utinyint[] as ty, null::varchar as shape, null::varchar as output_digest
where false;
