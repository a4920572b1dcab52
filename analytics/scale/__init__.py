"""Beyond one machine: Parquet shards (``shards``), jobs over shards on local processes or Ray
(``jobs``: run, partials, the merge skeleton) and the term-count job (``terms_job``). The
sentence-scoring job lives with the classifiers (``cotwatch.classifiers.shard_scores``)."""
