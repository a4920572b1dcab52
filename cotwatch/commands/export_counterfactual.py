"""`cotwatch export counterfactual`"""

from __future__ import annotations

import click

from cotwatch.options import db_option, run_option, wait_option


@click.command()
@run_option
@click.option("--mode", type=click.Choice(["remove", "inject"]), required=True,
              help="remove: cut flagged sentences from flagged transcripts; inject: insert an aware sentence into unflagged ones.")
@click.option("--sentence", default=None, help="The sentence to inject (--mode inject; default: a stock aware sentence).")
@click.option("--classifier", default="eval_awareness", show_default=True, help="Classifier whose flags to use.")
@click.option("--environment", default=None, help="Only this environment.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the injection points.")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="JSONL file to write.")
@db_option
@wait_option
def counterfactual(run, mode, sentence, classifier, environment, seed, out, db, wait):
    """Reasoning with flagged sentences removed (or an aware sentence injected), as JSONL.

    Each record carries the context before the reasoning, the original and edited reasoning, the
    prefix up to the first edit and the edits with offsets — ready for your own model to resample.
    """
    from cotwatch.analytics.store.database import Store
    from cotwatch.classifiers.counterfactual import export_counterfactual
    from cotwatch.output import emit

    with Store.open(db, wait=wait) as store:
        summary = export_counterfactual(store, run, mode=mode, out=out, classifier=classifier, sentence=sentence,
                                        environment=environment, seed=seed)
    emit(summary, "table")
