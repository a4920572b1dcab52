-- termcounts_merge_docs: append per-transcript counts: _part_terms (term lists, sparse counts:
-- migration 0007) and _part_tokens (tokens per transcript and scope).
insert into doc_term_lists (transcript_pk, scope, term_ids, counts)
select transcript_pk, scope, term_ids, counts from _part_terms;

insert into doc_tokens (transcript_pk, scope, tokens)
select transcript_pk, scope, tokens from _part_tokens;
