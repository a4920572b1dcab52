-- ingest_file_begin: the keys of the file's records seen so far (_fk: first occurrence of each
-- (run, id) in the file, with its hash and where it was), for conflicts within the file.
create or replace temp table _fk (run varchar, id varchar, content_hash varchar, seen_at varchar);
