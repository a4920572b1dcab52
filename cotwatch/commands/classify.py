"""`cotwatch classify train|eval|score|apply|list`"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cotwatch.commands.distributed import (
    ENGINES,
    apply_from_shards,
    scoring_options,
    shard_input_options,
)
from cotwatch.options import db_option, format_option, output_option, wait_option

classifier_option = click.option(
    "--classifier", "classifier", default="eval_awareness", show_default=True,
    help="Classifier name (user-trained in $COTWATCH_HOME/classifiers, else shipped) or path to a .skops artifact.",
)
device_option = click.option(
    "--device", default="auto", show_default=True,
    help="Torch device for the transformer: auto (cuda/mps when present), cpu, cuda, cuda:1, mps.",
)
batch_size_option = click.option(
    "--batch-size", type=click.IntRange(1, 4096), default=64, show_default=True,
    help="Sentences per transformer batch (64 is fastest on 2 CPU cores; raise it on a GPU).",
)
no_cascade_option = click.option(
    "--no-cascade", is_flag=True,
    help="Score every sentence with the transformer (slow; for checking what the cascade costs).",
)


@click.group()
def classify():
    """Train, evaluate and apply embedding classifiers (eval_awareness, grader_seeking, ...)."""


shared_option = click.option(
    "--shared-data", "shared", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Folder of the real labelled texts (alignment-faking/, thinking-traces/); default: $COTWATCH_SHARED_DATA, "
         "else ../shared/data beside a source checkout.")
external_option = click.option(
    "--external", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Folder with the non-redistributable real transcripts the corpus labels (one subfolder per source, "
         "see classifiers/data/eval_awareness/real/SOURCES.md); default: $COTWATCH_EXTERNAL_DATA.")


@classify.command("train")
@click.argument("spec", default="eval_awareness")
@click.option("--model", default=None,
              help="Embedding model: a local sentence-transformers folder or cached name (default: the spec's, i.e. the shipped all-MiniLM-L6-v2).")
@click.option("--out", type=click.Path(), default=None,
              help="Artifact file or folder (default: $COTWATCH_HOME/classifiers/NAME.skops, $COTWATCH_HOME defaults to ~/.cotwatch).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for cross-validation folds and fine-tuning.")
@shared_option
@external_option
@device_option
@batch_size_option
@format_option
def train(spec, model, out, seed, shared, external, device, batch_size, fmt):
    """Train SPEC (a shipped spec name or a .toml path) and save its artifact with a model card.

    Fits on the corpus's train side, calibrates the sentence threshold and the transcript decision
    on a calibration part of it, and prints held-out metrics per source at sentence and transcript
    level (real reasoning pooled as "real (pooled)"). Sources that are not present are skipped and
    named in the card.
    """
    from cotwatch.classifiers.training import train as run_train
    from cotwatch.classifiers.training import train_summary
    from cotwatch.output import emit

    result = run_train(spec, model=model, out=out, device=device, batch_size=batch_size, seed=seed,
                       progress=sys.stderr.isatty(), shared=shared, external=external)
    from cotwatch.output import terminal_safe

    for skipped in result.card["data"]["skipped_sources"]:
        click.echo(terminal_safe(f"note: skipped {skipped}", keep_newlines=False), err=True)
    click.echo(terminal_safe(f"saved {result.path}", keep_newlines=False), err=True)
    emit(train_summary(result.card), fmt)


@classify.command("eval")
@classifier_option
@shared_option
@external_option
@device_option
@batch_size_option
@format_option
def evaluate(classifier, shared, external, device, batch_size, fmt):
    """Re-score the held-out side of the corpus with a saved classifier: metrics per level and source."""
    from cotwatch.classifiers.training import evaluate as run_eval
    from cotwatch.output import emit

    emit(run_eval(classifier, device=device, batch_size=batch_size, shared=shared, external=external), fmt)


@classify.command("compare")
@click.argument("classifiers", nargs=-1, required=True)
@format_option
def compare(classifiers, fmt):
    """Held-out metrics of several trained classifiers side by side (from their model cards)."""
    from cotwatch.classifiers.training import compare as run_compare
    from cotwatch.output import emit

    emit(run_compare(list(classifiers)), fmt)


@classify.command("score")
@click.option("--input", "input_", type=click.Path(allow_dash=True), default=None,
              help="JSONL file (or - for stdin) of objects with 'id' and 'text'.")
@click.option("--text", "texts", multiple=True, help="A text to score (repeatable).")
@click.option("--no-split", is_flag=True, help="Score each text as one sentence instead of as a transcript.")
@classifier_option
@no_cascade_option
@device_option
@batch_size_option
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "table"]), default="csv", show_default=True,
              help="Output format.")
@output_option
def score(input_, texts, no_split, classifier, no_cascade, device, batch_size, fmt, output):
    """Score texts as transcripts: id, sentences, score (best sentence), transcript_score, label.

    label is the classifier's transcript decision (1 = flagged), the same one `classify apply`
    stores; with --no-split each text is one sentence and label = score >= the threshold.
    """
    from cotwatch.analytics.errors import UsageError
    from cotwatch.classifiers.scoring import read_texts_jsonl, score_texts
    from cotwatch.output import emit

    if input_ is None and not texts:
        raise UsageError("give --input FILE.jsonl (or -) and/or --text TEXT")
    ids, items = (read_texts_jsonl(input_) if input_ is not None else ([], []))
    ids = ids + [f"text{i}" for i in range(1, len(texts) + 1)]
    items = items + list(texts)
    emit(score_texts(items, ids, classifier=classifier, cascade=not no_cascade, split=not no_split,
                     device=device, batch_size=batch_size), fmt, output)


@classify.command("apply")
@click.option("--run", "run", default=None, help="Only this run (default: every run in the store).")
@classifier_option
@click.option("--rescore", is_flag=True, help="Forget this classifier version's results for the run first (embeddings stay cached).")
@no_cascade_option
@device_option
@batch_size_option
@click.option("--engine", type=click.Choice(ENGINES), default="duckdb", show_default=True,
              help="Where scoring runs: this machine (duckdb) or a Ray cluster (ray: needs --input shards "
                   "and `pip install 'cotwatch[ray]'`).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="With --input and --engine duckdb: scoring processes, each over whole shard files.")
@shard_input_options
@scoring_options
@db_option
@wait_option
@format_option
def apply(run, classifier, rescore, no_cascade, device, batch_size, engine, workers, input, partials, keep_partials,
          address, shard_batch, num_gpus, num_cpus, concurrency, db, wait, fmt):
    """Score every reasoning sentence not yet scored; store sentence scores and transcript results.

    Incremental: re-running only scores new transcripts. Sentence embeddings are cached in the
    store by (model, text hash), so repeated sentences are encoded once. With --input, score
    Parquet shards on --engine duckdb or ray (an actor pool: --concurrency, --num-gpus) and merge
    the results into the store in one transaction.
    """
    if input is not None or engine == "ray":
        return apply_from_shards(db=db, wait=wait, fmt=fmt, classifier=classifier, engine=engine, input=input,
                                 partials=partials, keep_partials=keep_partials, address=address, workers=workers,
                                 shard_batch=shard_batch, num_gpus=num_gpus, num_cpus=num_cpus,
                                 concurrency=concurrency, device=device, encode_batch=batch_size,
                                 cascade=not no_cascade, run=run)
    from cotwatch.analytics.store.database import Store
    from cotwatch.classifiers.applying import apply as run_apply
    from cotwatch.classifiers.applying import apply_summary
    from cotwatch.output import emit

    with Store.open(db, read_only=False, wait=wait) as store:
        stats = run_apply(store, classifier, run=run, device=device, batch_size=batch_size, rescore=rescore,
                          cascade=not no_cascade, progress=sys.stderr.isatty())
    emit(apply_summary(stats, classifier, run), fmt)


@classify.command("list")
@format_option
def list_(fmt):
    """Trained classifiers a name resolves to (user-trained first, then shipped) and their specs."""
    from cotwatch.classifiers.training import list_classifiers
    from cotwatch.output import emit

    emit(list_classifiers(), fmt)
