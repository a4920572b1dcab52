-- ingest_chunk_canonical: the staged chunk's metadata as its one canonical JSON text
-- (cw_canonical_json, registered by the ingest: records.canonical_json_text, with the keys --field
-- maps into the metadata merged over it). A record whose metadata cannot be read keeps null here
-- and is rejected by ingest_chunk_check. Records parsed in Python arrive canonical already.
update _ct set metadata = cw_canonical_json(meta_raw, meta_extra)
where meta_raw is not null or meta_extra is not null;
