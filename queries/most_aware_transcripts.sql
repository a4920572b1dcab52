-- The transcripts with the highest classifier score, with their flagged sentences (best first, joined by ' | ').
-- $classifier = 'eval_awareness': classifier name
-- $run = null: only this run (null: every run)
-- $limit = 20: how many transcripts
with top as (
    select transcript_id, run, step, environment, max_score, flagged, flagged_sentences
    from transcript_flags
    where classifier = $classifier
      and ($run is null or run = $run)
      and max_score is not null
    order by max_score desc, run, transcript_id
    limit $limit::bigint
),
sentences as (
    select
        s.run,
        s.transcript_id,
        string_agg(trim(regexp_replace(s.sentence, '\s+', ' ', 'g')), ' | ' order by s.score desc, s.ordinal, s.sentence_index)
            as flagged_text
    from sentence_scores s
    join top on top.run = s.run and top.transcript_id = s.transcript_id
    where s.classifier = $classifier and s.flagged
    group by s.run, s.transcript_id
)
select
    top.run,
    top.step,
    top.environment,
    top.transcript_id,
    round(top.max_score, 4)      as max_score,
    top.flagged_sentences,
    s.flagged_text
from top
left join sentences s on s.run = top.run and s.transcript_id = top.transcript_id
order by top.max_score desc, top.run, top.transcript_id;
