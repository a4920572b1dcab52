-- A phrase's rate in reasoning at every checkpoint, counted exactly from the text: occurrences (consecutive tokens within one segment) per 1,000 tokens and the share of transcripts using it (0 where absent).
-- $phrase: 1 to 5 tokens as the tokenizer makes them; case, hyphens, spaces and punctuation do not matter (e.g. autop-run, might be a test, wait, but)
-- $run = null: only this run (null: every run, each on its own rows)
-- $environment = null: only this environment (null: all environments pooled)
-- Tokens follow the token contract (lowercase letters/digits joined by inner apostrophes); the
-- text is tokenized here with DuckDB: characters Python's Unicode 14 tables do not know as letters
-- are separators and 'İ' folds to 'i' + a combining dot, as in cotwatch. One difference remains:
-- a capital sigma at the end of a word folds to σ here and to ς in cotwatch (Python's
-- final-sigma rule), so a Greek phrase written in capitals can count differently from
-- `cotwatch terms track`. Only transcripts whose term lists hold every token are read.
with phrase as (
    select regexp_extract_all(lower(replace(replace($phrase, 'İ', 'i̇'), '’', '''')),
                              '[\pL\pN]+(?:''[\pL\pN]+)*') as toks
),
totals as (
    select run, step, sum(tokens) as tokens, sum(docs) as docs
    from step_totals
    where ($run is null or run = $run)
      and ($environment is null or environment = $environment)
    group by run, step
),
candidates as (
    select tt.run, tt.transcript_id
    from transcript_terms tt, phrase p
    where list_contains(p.toks, tt.term)
      and ($run is null or tt.run = $run)
      and ($environment is null or tt.environment = $environment)
    group by tt.run, tt.transcript_id
    having count(*) = (select len(list_distinct(toks)) from phrase)
),
segments as (
    select r.run, r.step, r.transcript_id,
           regexp_extract_all(
               lower(replace(replace(regexp_replace(r.text,
                   '[\x{1123f}-\x{11240}\x{11f02}\x{11f04}-\x{11f10}\x{11f12}-\x{11f33}\x{11f50}-\x{11f59}\x{1342f}\x{13441}-\x{13446}\x{1b132}\x{1b155}\x{1d2c0}-\x{1d2d3}\x{1df25}-\x{1df2a}\x{1e030}-\x{1e06d}\x{1e4d0}-\x{1e4eb}\x{1e4f0}-\x{1e4f9}\x{2b739}\x{31350}-\x{323af}]',
                   ' ', 'g'), 'İ', 'i̇'), '’', '''')),
               '[\pL\pN]+(?:''[\pL\pN]+)*') as tk
    from reasoning r
    join candidates c on c.run = r.run and c.transcript_id = r.transcript_id
),
hits as (
    select s.run, s.step, s.transcript_id,
           -- positions holding the first token, then the whole phrase (slicing only there is fast)
           sum(len(list_filter(list_filter(range(1, len(s.tk) - len(p.toks) + 2), lambda i: s.tk[i] = p.toks[1]),
                               lambda i: s.tk[i:i + len(p.toks) - 1] = p.toks))) as occurrences
    from segments s, phrase p
    where len(p.toks) between 1 and 5
    group by s.run, s.step, s.transcript_id
),
per_step as (
    select run, step, sum(occurrences) as occurrences, count(*) filter (where occurrences > 0) as docs_with_term
    from hits
    group by run, step
)
select
    t.run,
    t.step,
    coalesce(h.occurrences, 0)::bigint                                   as occurrences,
    t.tokens::bigint                                                     as tokens,
    round(1000.0 * coalesce(h.occurrences, 0) / nullif(t.tokens, 0), 4)  as per_1k_tokens,
    coalesce(h.docs_with_term, 0)::bigint                                as docs_with_term,
    t.docs::bigint                                                       as docs,
    round(coalesce(h.docs_with_term, 0) / nullif(t.docs, 0), 4)          as doc_fraction
from totals t
left join per_step h on h.run = t.run and h.step = t.step
order by t.run, t.step;
