-- ingest_chunk_keys: remember the chunk's new records (_cd decision 'new') in _fk, the file's keys
-- so far, for the next chunks' conflict checks.
insert into _fk
select run, id, content_hash, coalesce('line ' || line, entry)
from _cd
where decision = 'new';
