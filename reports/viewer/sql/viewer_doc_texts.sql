-- viewer_doc_texts: the segments (transcript_pk, ordinal, text) of the transcripts $pks whose
-- kind is in $kinds and that are not redacted, in order.
select transcript_pk, ordinal, text
from segments
where list_contains($pks, transcript_pk) and list_contains($kinds, kind) and not redacted
order by transcript_pk, ordinal;
