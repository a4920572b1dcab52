-- shard_scores_chunk: store pks of the _job_todo transcripts whose partials are in the chunk
-- _p_chunk(part), in the shape insert_transcripts reads (cw_chunk(pk)).
select j.pk
from _job_todo j
where j.part in (select part from _p_chunk)
order by j.pk
