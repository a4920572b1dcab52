-- viewer_run: the run $run if it exists (one row: run, created_at).
select run, created_at from runs where run = $run;
