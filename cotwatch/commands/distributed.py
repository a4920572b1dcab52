"""Distributed (shard) variants of `cotwatch terms materialize` and `cotwatch classify apply`.

The lead wires these into the owning commands; see ``shard_job_options`` and the two
``*_from_shards`` helpers, which an existing command can call from its body when ``--input`` is
given (or ``--engine ray``). ``materialize`` and ``merge_job`` are complete click commands too.
"""

from __future__ import annotations

import click

from cotwatch.options import db_option, format_option, wait_option

ENGINES = ("duckdb", "ray")


def shard_job_options(f):
    """--engine, --input, --partials, --keep-partials, --address, --workers, --batch-size."""
    options = [
        click.option("--engine", type=click.Choice(ENGINES), default="duckdb", show_default=True,
                     help="Where the kernel runs: this machine (duckdb) or a Ray cluster (ray; needs cotwatch[ray])."),
        click.option("--input", "input", default=None,
                     help="Parquet shards: a file, a folder, or a glob/URI such as 's3://bucket/runs/**/*.parquet'."),
        click.option("--partials", default=None,
                     help="Folder or URI for the job's partials (default: <store>.jobs; on a multi-node "
                          "cluster use shared storage)."),
        click.option("--keep-partials", is_flag=True, help="Keep the job folder after the merge."),
        click.option("--address", default=None,
                     help="Ray cluster address (e.g. auto, ray://head:10001); default: a local cluster."),
        click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Processes for --engine duckdb (each over whole shard files)."),
        click.option("--batch-size", type=click.IntRange(min=1), default=4000, show_default=True,
                     help="Transcripts per kernel batch."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def materialize_from_shards(*, db, wait, fmt, engine, input, partials, keep_partials, address, workers,
                            batch_size) -> None:
    """Body of `terms materialize` when --input is given: count terms over the shards with the
    engine, merge into the store, print one summary row."""
    from analytics.errors import UsageError
    from analytics.shard_terms import materialize_shards
    from cotwatch.output import emit

    if input is None:
        raise UsageError("--engine ray reads Parquet shards: pass --input (write them with `cotwatch export parquet`)")
    result = materialize_shards(db, input, engine=engine, partials=partials, keep_partials=keep_partials,
                                wait=wait, batch_size=batch_size, workers=workers, address=address)
    emit(result.as_frame(), fmt)


@click.command()
@shard_job_options
@db_option
@wait_option
@format_option
def materialize(engine, input, partials, keep_partials, address, workers, batch_size, db, wait, fmt):
    """Count terms of Parquet shards (same kernel on every engine) and merge them into the store.

    Transcripts the store lacks are inserted (as by `cotwatch ingest`); transcripts already
    counted are skipped; the merge is one transaction recorded in the `jobs` table.
    """
    materialize_from_shards(db=db, wait=wait, fmt=fmt, engine=engine, input=input, partials=partials,
                            keep_partials=keep_partials, address=address, workers=workers, batch_size=batch_size)


@click.command("merge-job")
@click.argument("job_dir")
@db_option
@wait_option
@format_option
def merge_job(job_dir, db, wait, fmt):
    """Merge a finished job folder (one with a _SUCCESS marker) into the store.

    For jobs run elsewhere (e.g. on a cluster, partials in object storage). Merging a job twice
    changes nothing; a folder without _SUCCESS is refused.
    """
    from analytics.store import Store
    from classifiers.shard_scores import merge_any_job
    from cotwatch.output import emit

    with Store.open(db, read_only=False, wait=wait) as store:
        result = merge_any_job(store, job_dir)
    emit(result.as_frame(), fmt)


def scoring_job_options(f):
    """The classify-apply extras on top of shard_job_options: --num-gpus, --num-cpus, --concurrency."""
    f = click.option("--concurrency", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Ray: scoring actors (each loads the model once).")(f)
    f = click.option("--num-gpus", type=click.FloatRange(min=0), default=0, show_default=True,
                     help="Ray: GPUs per scoring actor (fractions share a GPU).")(f)
    f = click.option("--num-cpus", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="Ray: CPUs per scoring actor (default 0.5 without GPUs, so reads still get a CPU).")(f)
    return shard_job_options(f)


def apply_from_shards(*, db, wait, fmt, classifier, engine, input, partials, keep_partials, address, workers,
                      batch_size, num_gpus, num_cpus, concurrency, device="auto", encode_batch=64,
                      cascade=True) -> None:
    """Body of `classify apply` when --input is given (or --engine ray): score the shards' reasoning
    sentences with the engine, merge into the store, print one summary row."""
    from analytics.errors import UsageError
    from classifiers.shard_scores import apply_shards
    from cotwatch.output import emit

    if input is None:
        raise UsageError("--engine ray reads Parquet shards: pass --input (write them with `cotwatch export parquet`)")
    result = apply_shards(db, input, classifier, engine=engine, partials=partials, keep_partials=keep_partials,
                          wait=wait, device=device, encode_batch=encode_batch, batch_size=batch_size,
                          cascade=cascade, num_gpus=num_gpus or None, num_cpus=num_cpus, concurrency=concurrency,
                          workers=workers, address=address)
    emit(result.as_frame(), fmt)


@click.command()
@click.argument("classifier", default="eval_awareness")
@scoring_job_options
@click.option("--device", default="auto", show_default=True, help="Encoder device on the workers (auto, cpu, cuda).")
@click.option("--encode-batch", type=click.IntRange(min=1), default=64, show_default=True,
              help="Sentences per encoder call.")
@click.option("--no-cascade", is_flag=True, help="Score every sentence with the transformer.")
@db_option
@wait_option
@format_option
def apply(classifier, engine, input, partials, keep_partials, address, workers, batch_size, num_gpus, num_cpus,
          concurrency, device, encode_batch, no_cascade, db, wait, fmt):
    """Score the reasoning sentences of Parquet shards with CLASSIFIER on an engine, then merge.

    Each worker (a Ray actor, or a process with --engine duckdb) loads the model and artifact once.
    Results land where `classify apply` puts them; transcripts already scored by this artifact are
    skipped, the merge is one transaction recorded in the `jobs` table.
    """
    apply_from_shards(db=db, wait=wait, fmt=fmt, classifier=classifier, engine=engine, input=input,
                      partials=partials, keep_partials=keep_partials, address=address, workers=workers,
                      batch_size=batch_size, num_gpus=num_gpus, num_cpus=num_cpus, concurrency=concurrency,
                      device=device, encode_batch=encode_batch, cascade=not no_cascade)

