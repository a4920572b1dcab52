-- ingest_hash: content hashes of a staged chunk (_ct transcripts with canonical metadata, _cs
-- segments; macros from ingest_hash_macros), and whether each record has any text (a redacted
-- segment, or one with a character outside Python's whitespace: $nonblank). A segment's text_md5
-- may be given (the compiled path computes it); else it is md5(text). Returns
-- (pk, content_hash, has_text), one row per transcript of _ct.
select t.pk,
       cw_record_digest(t.run, t.step, t.environment, t.epoch, t.covert_action, t.score, t.metadata, d.digests)
           as content_hash,
       coalesce(d.has_text, false) as has_text
from _ct t
left join (
    select pk, string_agg(cw_segment_digest(kind, role, redacted, coalesce(text_md5, md5(text))), '' order by ordinal)
               as digests,
           bool_or(redacted or regexp_matches(text, $nonblank)) as has_text
    from _cs
    group by pk
) d using (pk);
