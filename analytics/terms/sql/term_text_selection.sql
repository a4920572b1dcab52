-- term_text_selection: how many transcripts are in the selection: $runs (list; null = all),
-- $environment (null = all), $steps (list; null = all).
select count(*)
from transcripts t
where ($runs is null or list_contains($runs, t.run))
  and ($environment is null or t.environment = $environment)
  and ($steps is null or list_contains($steps, t.step));
