-- term_ngram_counts: per (step, term) the occurrences and docs_with_term of every n-gram
-- ($n tokens, 2 to 5, joined by one space) in segments of kinds $kinds of run $run ($environment:
-- null = all), tokenized in DuckDB under the token contract (RE2 classes on lower()ed text),
-- except the transcripts in the registered table _odd(transcript_pk), counted in Python.
-- (The n-grams of a list are zips of its shifted slices: slicing inside a lambda is ~5x slower.)
with toks as (
    select t.step, s.transcript_pk,
           regexp_extract_all(lower(replace(s.text, '’', '''')), '[\pL\pN]+(?:''[\pL\pN]+)*') as tk
    from segments s
    join transcripts t on t.pk = s.transcript_pk
    where t.run = $run
      and ($environment is null or t.environment = $environment)
      and list_contains($kinds, s.kind)
      and s.transcript_pk not in (select transcript_pk from _odd)
), grams as (
    select step, transcript_pk, unnest(case $n
        when 2 then list_transform(list_zip(tk[1:len(tk) - 1], tk[2:len(tk)]),
                                   lambda p: p[1] || ' ' || p[2])
        when 3 then list_transform(list_zip(tk[1:len(tk) - 2], tk[2:len(tk) - 1], tk[3:len(tk)]),
                                   lambda p: p[1] || ' ' || p[2] || ' ' || p[3])
        when 4 then list_transform(list_zip(tk[1:len(tk) - 3], tk[2:len(tk) - 2], tk[3:len(tk) - 1], tk[4:len(tk)]),
                                   lambda p: p[1] || ' ' || p[2] || ' ' || p[3] || ' ' || p[4])
        when 5 then list_transform(list_zip(tk[1:len(tk) - 4], tk[2:len(tk) - 3], tk[3:len(tk) - 2], tk[4:len(tk) - 1],
                                            tk[5:len(tk)]),
                                   lambda p: p[1] || ' ' || p[2] || ' ' || p[3] || ' ' || p[4] || ' ' || p[5])
    end) as term
    from toks
    where len(tk) >= $n
), per_doc as (
    select step, transcript_pk, term, count(*) as n
    from grams
    group by step, transcript_pk, term
)
select step, term, sum(n)::bigint as occurrences, count(*)::bigint as docs_with_term
from per_doc
group by step, term;
