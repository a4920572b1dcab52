-- viewer_pk_range: the lowest and highest transcript key among the transcripts matching the
-- optional $run, $step, $environment (NULLs when none match): the range a search walks.
select min(pk), max(pk)
from transcripts
where ($run is null or run = $run)
  and ($step is null or step = $step)
  and ($environment is null or environment = $environment);
