-- ingest_cleanup: drop the staging tables of the file just committed.
drop table if exists _stage_t;
drop table if exists _stage_s;
drop table if exists _stage_first;
drop table if exists _stage_bad;
drop table if exists _stage_new;
