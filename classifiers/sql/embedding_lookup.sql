-- embedding_lookup: cached embeddings of the hashes in the registered Arrow table cw_hashes.
-- Parameters: $model (embedding model id). Returns text_hash, embedding (FLOAT[]).
select e.text_hash, e.embedding
from classifier_embeddings e
where e.model = $model
  and e.text_hash in (select text_hash from cw_hashes)
