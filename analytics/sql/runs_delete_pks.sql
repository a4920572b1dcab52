-- runs_delete_pks: the store pks of run $run's transcripts (_delete_pks), before any row goes.
create or replace temp table _delete_pks as
select pk from transcripts where run = $run;
