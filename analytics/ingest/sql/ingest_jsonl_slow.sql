-- ingest_jsonl_slow: the lines of the chunk that the SQL path does not store (not valid JSON for
-- DuckDB, or a shape it leaves to Python), in order: records.record_from_json judges them.
select line from _lines
where text is not null and line not in (select line from _jf where shape = 'plain')
  and line not in (select line from _jf where shape = 'chat' and line not in (select line from _jslow_chat))
order by line;
