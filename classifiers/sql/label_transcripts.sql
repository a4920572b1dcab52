-- label_transcripts: internal keys of the (run, transcript_id) pairs in the registered table
-- cw_label_keys. Returns run, transcript_id, pk.
select t.run, t.id as transcript_id, t.pk
from transcripts t
join cw_label_keys k on k.run = t.run and k.transcript_id = t.id
