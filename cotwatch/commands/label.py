"""`cotwatch label export|import`"""

from __future__ import annotations

import click

from cotwatch.options import db_option, format_option, wait_option


@click.group()
def label():
    """Active learning: export uncertain, diverse sentences to label; import the labels."""


@label.command("export")
@click.option("--transcripts", "transcripts", type=click.IntRange(1, 1000000), default=None,
              help="Draw a uniform random sample of N transcripts to label whole (feeds the prediction-powered "
                   "prevalence of `cotwatch awareness`).")
@click.option("--n", "n", type=click.IntRange(1, 100000), default=50, show_default=True,
              help="Without --transcripts: sentences to export (most uncertain, diverse; for retraining).")
@click.option("--run", default=None, help="Only this run (default: all runs).")
@click.option("--classifier", default="eval_awareness", show_default=True, help="Classifier whose scores to use.")
@click.option("--seed", type=int, default=None, help="Seed of the --transcripts sample (default: random; recorded in the file).")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="JSONL file to write.")
@db_option
@wait_option
@format_option
def export(transcripts, n, run, classifier, seed, out, db, wait, fmt):
    """Write transcripts (--transcripts N) or sentences (--n N) to label: fill in each 'label' with 1/0.

    Transcript lines carry the classifier's decision and its highest-scoring sentences as evidence;
    label every line (read the transcript with `cotwatch show ID --run RUN` when the evidence does
    not settle it), then `cotwatch label import FILE`.
    """
    from cotwatch.analytics.store.database import Store
    from cotwatch.classifiers.labeling import export_for_labelling, export_transcripts_for_labelling
    from cotwatch.output import emit, terminal_safe

    with Store.open(db, wait=wait) as store:
        if transcripts is not None:
            picked = export_transcripts_for_labelling(store, transcripts, out, classifier=classifier, run=run, seed=seed)
            click.echo(terminal_safe(f"wrote a uniform random sample of {picked.height} transcripts to {out}",
                                     keep_newlines=False), err=True)
        else:
            picked = export_for_labelling(store, n, out, classifier=classifier, run=run).select("id", "score", "text")
            click.echo(terminal_safe(f"wrote {picked.height} sentences to {out}", keep_newlines=False), err=True)
    emit(picked, fmt)


@label.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@click.option("--classifier", default="eval_awareness", show_default=True, help="Classifier the labels are for.")
@click.option("--split", type=click.Choice(["train", "heldout"]), default="train", show_default=True,
              help="train: more training data; heldout: validation labels from your corpus (representative error rates).")
@db_option
@wait_option
@format_option
def import_(file, classifier, split, db, wait, fmt):
    """Import labels: transcript labels (from --transcripts) go into the store for `awareness`;
    sentence labels (JSONL with 'text' and 'label') go to the training or held-out data (retrain to use them)."""
    from cotwatch.classifiers.labeling import import_labels, import_transcript_labels, is_transcript_label_file
    from cotwatch.output import emit

    if is_transcript_label_file(file):
        from cotwatch.analytics.store.database import Store

        with Store.open(db, read_only=False, wait=wait) as store:
            emit(import_transcript_labels(store, file, classifier=classifier), fmt)
        return
    emit(import_labels(file, classifier=classifier, split=split), fmt)
