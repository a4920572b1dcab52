-- viewer_segments: every segment of the transcript with key $pk, in order.
select ordinal, role, kind, redacted, text
from segments
where transcript_pk = $pk
order by ordinal;
