"""Shard (distributed) variants of `cotwatch terms materialize` and `cotwatch classify apply`.

Two ways to use this module:

* complete click commands — ``materialize`` (terms), ``apply`` (scores) and ``merge_job`` — that
  can be registered as they are;
* option decorators and ``*_from_shards`` bodies for the owning commands: add
  ``shard_input_options`` (and ``scoring_options`` for classify apply), widen ``--engine`` to
  ``duckdb|ray``, and when ``--input`` is given or ``--engine ray`` call the body.
"""

from __future__ import annotations

import click

from cotwatch.options import db_option, format_option, wait_option

ENGINES = ("duckdb", "ray")


def shard_input_options(f):
    """--input, --partials, --keep-partials, --address, --shard-batch (no --engine/--workers, which
    the owning commands already have)."""
    options = [
        click.option("--input", "input", default=None,
                     help="Parquet shards: a file, a folder, or a glob/URI such as 's3://bucket/runs/**/*.parquet'."),
        click.option("--partials", default=None,
                     help="Folder or URI for the job's partials (default: <store>.jobs; on a multi-node "
                          "cluster use shared storage)."),
        click.option("--keep-partials", is_flag=True, help="Keep the job folder after the merge."),
        click.option("--address", default=None,
                     help="Ray cluster address (e.g. auto, ray://head:10001); default: a local cluster."),
        click.option("--shard-batch", type=click.IntRange(min=1), default=None,
                     help="Transcripts per kernel batch (default: 4000 for terms, 500 for scores)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def shard_job_options(f):
    """--engine and --workers, then shard_input_options."""
    f = shard_input_options(f)
    f = click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Processes for --engine duckdb (each over whole shard files).")(f)
    return click.option("--engine", type=click.Choice(ENGINES), default="duckdb", show_default=True,
                        help="Where the kernel runs: this machine (duckdb) or a Ray cluster (ray; needs cotwatch[ray]).")(f)


def scoring_options(f):
    """--num-gpus, --num-cpus, --concurrency (Ray actor pool of scorers)."""
    f = click.option("--concurrency", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Ray: scoring actors (each loads the model once).")(f)
    f = click.option("--num-cpus", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="Ray: CPUs per scoring actor (default 0.5 without GPUs, so reads still get a CPU).")(f)
    return click.option("--num-gpus", type=click.FloatRange(min=0), default=0, show_default=True,
                        help="Ray: GPUs per scoring actor (fractions share a GPU).")(f)


def _need_input(input) -> None:
    from cotwatch.analytics.errors import UsageError

    if input is None:
        raise UsageError("--engine ray reads Parquet shards: pass --input (write them with `cotwatch export parquet`)")


def materialize_from_shards(*, db, wait, fmt, engine, input, partials=None, keep_partials=False, address=None,
                            workers=1, shard_batch=None) -> None:
    """Body of `terms materialize` when --input is given or --engine ray: count terms over the
    shards with the engine, merge into the store, print one summary row."""
    from cotwatch.analytics.scale.terms_job import materialize_shards
    from cotwatch.output import emit

    _need_input(input)
    result = materialize_shards(db, input, engine=engine, partials=partials, keep_partials=keep_partials,
                                wait=wait, batch_size=shard_batch or 4000, workers=workers or 1, address=address)
    emit(result.as_frame(), fmt)


def apply_from_shards(*, db, wait, fmt, classifier, engine, input, partials=None, keep_partials=False,
                      address=None, workers=1, shard_batch=None, num_gpus=0, num_cpus=None, concurrency=1,
                      device="auto", encode_batch=64, cascade=True, run=None) -> None:
    """Body of `classify apply` when --input is given or --engine ray: score the shards' reasoning
    sentences with the engine, merge into the store, print one summary row."""
    from cotwatch.analytics.errors import UsageError
    from cotwatch.classifiers.shard_scores import apply_shards
    from cotwatch.output import emit

    _need_input(input)
    if run is not None:
        raise UsageError("--run does not apply to --input; select runs with the path, e.g. 'shards/run=NAME/**'")
    result = apply_shards(db, input, classifier, engine=engine, partials=partials, keep_partials=keep_partials,
                          wait=wait, device=device, encode_batch=encode_batch, batch_size=shard_batch or 500,
                          cascade=cascade, num_gpus=num_gpus or None, num_cpus=num_cpus, concurrency=concurrency,
                          workers=workers or 1, address=address)
    emit(result.as_frame(), fmt)


@click.command()
@shard_job_options
@db_option
@wait_option
@format_option
def materialize(engine, workers, input, partials, keep_partials, address, shard_batch, db, wait, fmt):
    """Count terms of Parquet shards (same kernel on every engine) and merge them into the store.

    Transcripts the store lacks are inserted (as by `cotwatch ingest`); transcripts already
    counted are skipped; the merge is one transaction recorded in the `jobs` table.
    """
    materialize_from_shards(db=db, wait=wait, fmt=fmt, engine=engine, input=input, partials=partials,
                            keep_partials=keep_partials, address=address, workers=workers, shard_batch=shard_batch)


@click.command()
@click.argument("classifier", default="eval_awareness")
@shard_job_options
@scoring_options
@click.option("--device", default="auto", show_default=True, help="Encoder device on the workers (auto, cpu, cuda).")
@click.option("--batch-size", "encode_batch", type=click.IntRange(min=1), default=64, show_default=True,
              help="Sentences per encoder call.")
@click.option("--no-cascade", is_flag=True, help="Score every sentence with the transformer.")
@db_option
@wait_option
@format_option
def apply(classifier, engine, workers, input, partials, keep_partials, address, shard_batch, num_gpus, num_cpus,
          concurrency, device, encode_batch, no_cascade, db, wait, fmt):
    """Score the reasoning sentences of Parquet shards with CLASSIFIER on an engine, then merge.

    Each worker (a Ray actor, or a process with --engine duckdb) loads the model and artifact once.
    Results land where `classify apply` puts them; transcripts already scored by this artifact are
    skipped; the merge is one transaction recorded in the `jobs` table.
    """
    apply_from_shards(db=db, wait=wait, fmt=fmt, classifier=classifier, engine=engine, input=input,
                      partials=partials, keep_partials=keep_partials, address=address, workers=workers,
                      shard_batch=shard_batch, num_gpus=num_gpus, num_cpus=num_cpus, concurrency=concurrency,
                      device=device, encode_batch=encode_batch, cascade=not no_cascade)


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
    from cotwatch.analytics.store.database import Store
    from cotwatch.classifiers.shard_scores import merge_any_job
    from cotwatch.output import emit

    with Store.open(db, read_only=False, wait=wait) as store:
        result = merge_any_job(store, job_dir)
    emit(result.as_frame(), fmt)
