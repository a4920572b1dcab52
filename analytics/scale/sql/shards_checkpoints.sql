-- shards_checkpoints: the (run, step) partitions to export, with their transcript counts;
-- every run when $run is null.
select run, step, count(*) as transcripts
from transcripts
where $run is null or run = $run
group by run, step
order by run, step;
