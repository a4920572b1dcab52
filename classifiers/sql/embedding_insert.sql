-- embedding_insert: add freshly encoded embeddings from the registered Arrow table
-- cw_new_embeddings(text_hash, embedding). Parameters: $model. Skips hashes already cached.
insert into classifier_embeddings (model, text_hash, embedding)
select $model, n.text_hash, n.embedding
from cw_new_embeddings n
where not exists (
    select 1 from classifier_embeddings e where e.model = $model and e.text_hash = n.text_hash
)
