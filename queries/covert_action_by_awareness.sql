-- Covert-action rate and mean score of transcripts with and without a flagged sentence, per run (only transcripts whose covert_action is known count in the rate).
-- $classifier = 'eval_awareness': classifier name
-- $run = null: only this run (null: every run)
select
    f.run,
    f.flagged                                          as aware,
    count(*)                                           as transcripts,
    count(t.covert_action)                             as labelled,
    count(*) filter (where t.covert_action)            as covert,
    round(avg(t.covert_action::int), 4)                as covert_rate,
    round(avg(t.score), 4)                             as mean_score
from transcript_flags f
join transcripts t on t.run = f.run and t.transcript_id = f.transcript_id
where f.classifier = $classifier
  and ($run is null or f.run = $run)
group by f.run, f.flagged
order by f.run, aware;
