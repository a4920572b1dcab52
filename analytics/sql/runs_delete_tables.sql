-- runs_delete_tables: every base table of the store holding rows of runs: (schema, table, column)
-- for each table in the store's own catalog (temp tables excluded) with a `transcript_pk` column
-- (rows of the run's transcripts) or a `run` column. Tables of later migrations are found here
-- too, so `runs delete` never leaves a row behind in a table it was not told about.
select c.table_schema, c.table_name, c.column_name
from information_schema.columns c
join information_schema.tables t
  on t.table_catalog = c.table_catalog and t.table_schema = c.table_schema and t.table_name = c.table_name
where t.table_type = 'BASE TABLE'
  and c.table_catalog = current_database()
  and c.column_name in ('transcript_pk', 'run')
order by c.column_name = 'run', c.table_name = 'transcripts', c.table_name = 'runs', c.table_schema, c.table_name;
