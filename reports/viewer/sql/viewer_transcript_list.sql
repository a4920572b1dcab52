-- viewer_transcript_list: one page of the transcripts of run $run (filters as in
-- viewer_transcript_count) ordered by step and id: at most $limit rows after skipping $offset.
-- With reasoning tokens and, per classifier version in $classifier_ids that scored it, its highest
-- sentence score and whether it was flagged (a list of structs id, max_score, flagged). The page is
-- cut first, so the joins touch its rows only.
with page as (
    select pk, id, step, environment, epoch, score, covert_action
    from transcripts
    where run = $run
      and ($step is null or step = $step)
      and ($environment is null or environment = $environment)
      and (not $no_environment or environment is null)
    order by step, id
    limit $limit offset $offset
)
select p.id, p.step, p.environment, p.epoch, p.score, p.covert_action,
       coalesce(d.tokens, 0) as reasoning_tokens,
       (select list({'id': c.classifier_id, 'max_score': c.max_score::double, 'flagged': c.flagged})
        from classifier_transcripts c
        where c.transcript_pk = p.pk and list_contains($classifier_ids, c.classifier_id)) as scores
from page p
left join doc_tokens d on d.transcript_pk = p.pk and d.scope = 'reasoning'
order by p.step, p.id;
