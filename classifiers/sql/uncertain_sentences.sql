-- uncertain_sentences: distinct candidate sentences (stage 2) of classifier version
-- $classifier_id (run $run, or all runs when null), closest to the threshold first, with one
-- example location each. Returns text, score, transcript_id, run, step; at most $limit rows.
with scored as (
    select substring(g.text, s.start_char + 1, s.end_char - s.start_char) as text,
           s.score, t.id as transcript_id, t.run, t.step,
           abs(s.score - $threshold) as distance
    from classifier_sentences s
    join segments g on g.transcript_pk = s.transcript_pk and g.ordinal = s.ordinal
    join transcripts t on t.pk = s.transcript_pk
    where s.classifier_id = $classifier_id
      and s.stage = 2
      and ($run is null or t.run = $run)
)
select text, any_value(score) as score, min(distance) as distance,
       arg_min(transcript_id, distance) as transcript_id, arg_min(run, distance) as run,
       arg_min(step, distance) as step
from scored
group by text
order by distance, text
limit $limit
