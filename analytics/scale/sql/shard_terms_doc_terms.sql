-- shard_terms_doc_terms: a chunk of term partials (_p_terms) keyed by store pk, in the kernel's
-- output shape (transcript_pk, scope, term, n); only the transcripts picked for counting.
select j.pk as transcript_pk, p.scope, p.term, p.n
from _p_terms p
join _job_todo j on j.run = p.run and j.transcript_id = p.transcript_id and j.part = p.part;
