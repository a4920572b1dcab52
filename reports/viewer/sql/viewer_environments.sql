-- viewer_environments: per environment of run $run: transcripts and steps it appears at.
select environment, count(*) as transcripts, count(distinct step) as steps
from transcripts
where run = $run
group by environment
order by environment nulls first;
