-- ingest_stage_drop: remove the staging tables of the file just ingested (or abandoned).
drop table if exists _ingest_stage_t;
drop table if exists _ingest_stage_s;
