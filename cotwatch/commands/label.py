"""`cotwatch label export|import`"""

from __future__ import annotations

import click

from cotwatch.options import db_option, format_option, wait_option


@click.group()
def label():
    """Active learning: export uncertain, diverse sentences to label; import the labels."""


@label.command("export")
@click.option("--n", "n", type=click.IntRange(1, 100000), default=50, show_default=True, help="Sentences to export.")
@click.option("--run", default=None, help="Only sentences of this run (default: all runs).")
@click.option("--classifier", default="eval_awareness", show_default=True, help="Classifier whose scores to use.")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="JSONL file to write.")
@db_option
@wait_option
@format_option
def export(n, run, classifier, out, db, wait, fmt):
    """Write the N most uncertain, diverse unlabelled sentences (fill in their 'label' with 0/1)."""
    from cotwatch.analytics.store.database import Store
    from cotwatch.classifiers.labeling import export_for_labelling
    from cotwatch.output import emit

    with Store.open(db, wait=wait) as store:
        picked = export_for_labelling(store, n, out, classifier=classifier, run=run)
    click.echo(f"wrote {picked.height} sentences to {out}", err=True)
    emit(picked.select("id", "score", "text"), fmt)


@label.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@click.option("--classifier", default="eval_awareness", show_default=True, help="Classifier the labels are for.")
@click.option("--split", type=click.Choice(["train", "heldout"]), default="train", show_default=True,
              help="train: more training data; heldout: validation labels from your corpus (representative error rates).")
@format_option
def import_(file, classifier, split, fmt):
    """Add labelled sentences (JSONL with 'text' and 'label') to the training or held-out data; retrain to use them."""
    from cotwatch.classifiers.labeling import import_labels
    from cotwatch.output import emit

    emit(import_labels(file, classifier=classifier, split=split), fmt)
