-- report_covert: covert actions among transcripts flagged as eval-aware by classifier $classifier
-- and among those not flagged, per (run, step), counting only transcripts whose covert_action is
-- labelled (main.transcript_flags: the transcript-level decision of the latest classifier version).
-- Parameters: $classifier (VARCHAR), $runs (VARCHAR[]).
-- Returns: run, step, flagged, n, covert
select f.run, f.step, f.flagged, count(*)::bigint as n, count(*) filter (where t.covert_action)::bigint as covert
from main.transcript_flags f
join main.transcripts t on t.run = f.run and t.transcript_id = f.transcript_id
where f.classifier = $classifier and list_contains($runs, f.run) and t.covert_action is not null
group by f.run, f.step, f.flagged
order by f.run, f.step, f.flagged;
