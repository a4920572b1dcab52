-- Transcripts whose reasoning uses a term, most uses first, with a snippet around its first use.
-- $term: the term, one token as the tokenizer makes it (lowercase; e.g. grader)
-- $run = null: only this run (null: every run)
-- $limit = 20: how many transcripts
with hits as (
    select transcript_id, run, step, environment, occurrences
    from transcript_terms
    where term = replace(lower($term), '’', '''')
      and ($run is null or run = $run)
),
snippets as (
    select
        r.run,
        r.transcript_id,
        -- the term as a whole token, case-insensitive, either apostrophe, up to 60 characters either side
        min_by(
            regexp_extract(
                r.text,
                '(?is)(.{0,60}(?:^|[^\pL\pN''’])' || replace(replace(regexp_escape(replace(lower($term), '’', '''')), '\''', ''''), '''', '[''’]') || '(?:[^\pL\pN''’]|$).{0,60})',
                1
            ),
            r.ordinal
        ) filter (where regexp_matches(
            r.text,
            '(?is)(?:^|[^\pL\pN''’])' || replace(replace(regexp_escape(replace(lower($term), '’', '''')), '\''', ''''), '''', '[''’]') || '(?:[^\pL\pN''’]|$)'
        )) as snippet
    from reasoning r
    join hits h on h.run = r.run and h.transcript_id = r.transcript_id
    group by r.run, r.transcript_id
)
select
    h.run,
    h.step,
    h.environment,
    h.transcript_id,
    h.occurrences,
    trim(regexp_replace(s.snippet, '\s+', ' ', 'g')) as snippet
from hits h
left join snippets s on s.run = h.run and s.transcript_id = h.transcript_id
order by h.occurrences desc, h.run, h.step, h.transcript_id
limit $limit::bigint;
