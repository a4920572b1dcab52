-- transcript_segments: every segment of transcript $id (optionally only in run $run).
select
    t.run, t.id, t.step, t.environment, t.epoch, t.covert_action, t.score,
    t.source_file, t.source_line, t.source_entry, t.metadata,
    s.ordinal, s.role, s.kind, s.redacted, s.text
from transcripts t
join segments s on s.transcript_pk = t.pk
where t.id = $id and ($run is null or t.run = $run)
order by t.run, s.ordinal;
