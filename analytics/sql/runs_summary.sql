-- runs_summary: one row per run: steps, environments, transcripts, reasoning tokens.
select
    t.run,
    count(distinct t.step)          as steps,
    count(distinct t.environment)   as environments,
    count(*)                        as transcripts,
    coalesce(sum(d.tokens), 0)::bigint as reasoning_tokens
from transcripts t
left join doc_tokens d on d.transcript_pk = t.pk and d.scope = 'reasoning'
group by t.run
order by t.run;
