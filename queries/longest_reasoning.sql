-- The longest reasoning (in tokens) at each checkpoint, with the opening of each: spot loops and rambling.
-- $run = null: only this run (null: every run)
-- $per_step = 3: how many transcripts per checkpoint
with ranked as (
    select
        run, step, environment, transcript_id, tokens,
        row_number() over (partition by run, step order by tokens desc, transcript_id) as rank
    from transcript_tokens
    where ($run is null or run = $run)
      and tokens > 0
),
openings as (
    select run, transcript_id, min_by(text, ordinal) filter (where text <> '') as first_text
    from reasoning
    where $run is null or run = $run
    group by run, transcript_id
)
select
    r.run,
    r.step,
    r.rank,
    r.transcript_id,
    r.environment,
    r.tokens,
    left(trim(regexp_replace(o.first_text, '\s+', ' ', 'g')), 120) as opening
from ranked r
left join openings o on o.run = r.run and o.transcript_id = r.transcript_id
where r.rank <= $per_step::bigint
order by r.run, r.step, r.rank;
