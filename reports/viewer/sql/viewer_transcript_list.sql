-- viewer_transcript_list: one page of the transcripts of run $run (filters as in
-- viewer_transcript_count) ordered by step and id: at most $limit rows after skipping $offset.
-- With reasoning tokens and, per classifier version in $classifier_ids that scored it, its highest
-- sentence score and whether it was flagged (a list of structs id, max_score, flagged).
select t.id, t.step, t.environment, t.epoch, t.score, t.covert_action,
       coalesce(d.tokens, 0) as reasoning_tokens,
       (select list({'id': c.classifier_id, 'max_score': c.max_score::double, 'flagged': c.flagged})
        from classifier_transcripts c
        where c.transcript_pk = t.pk and list_contains($classifier_ids, c.classifier_id)) as scores
from transcripts t
left join doc_tokens d on d.transcript_pk = t.pk and d.scope = 'reasoning'
where t.run = $run
  and ($step is null or t.step = $step)
  and ($environment is null or t.environment = $environment)
  and (not $no_environment or t.environment is null)
order by t.step, t.id
limit $limit offset $offset;
