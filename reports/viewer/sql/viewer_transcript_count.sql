-- viewer_transcript_count: transcripts of run $run, optionally only at step $step and in
-- environment $environment (NULL: any; $no_environment: only those without one).
select count(*)
from transcripts
where run = $run
  and ($step is null or step = $step)
  and ($environment is null or environment = $environment)
  and (not $no_environment or environment is null);
