-- shards_export: the transcripts of checkpoint ($run, $step), one row per transcript in the
-- shard schema (docs/scale.md): transcript_id, run, step, environment, epoch, covert_action,
-- score, metadata (JSON text), segments list<struct<ordinal, role, kind, text, redacted>>.
select
    t.id                        as transcript_id,
    t.run,
    t.step,
    t.environment,
    t.epoch,
    t.covert_action,
    t.score,
    cast(t.metadata as varchar) as metadata,
    list(
        {'ordinal': s.ordinal, 'role': s.role, 'kind': s.kind, 'text': s.text, 'redacted': s.redacted}
        order by s.ordinal
    )                           as segments
from transcripts t
join segments s on s.transcript_pk = t.pk
where t.run = $run and t.step = $step
group by t.pk, t.id, t.run, t.step, t.environment, t.epoch, t.covert_action, t.score, t.metadata
order by t.pk;
