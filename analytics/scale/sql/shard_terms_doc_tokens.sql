-- shard_terms_doc_tokens: a chunk of token partials (_p_tokens) keyed by store pk, in the
-- kernel's output shape (transcript_pk, scope, tokens); only the transcripts picked for counting.
select j.pk as transcript_pk, p.scope, p.tokens
from _p_tokens p
join _job_todo j on j.run = p.run and j.transcript_id = p.transcript_id and j.part = p.part;
