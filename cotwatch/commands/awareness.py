"""`cotwatch awareness`"""

from __future__ import annotations

import click

from cotwatch.options import (
    db_option,
    format_option,
    output_option,
    run_option,
    wait_option,
)


@click.command()
@run_option
@click.option("--classifier", default="eval_awareness", show_default=True, help="Classifier whose results to use.")
@click.option("--by-environment", is_flag=True, help="One row per (step, environment) instead of per step.")
@click.option("--pooled", is_flag=True, help="One row for the whole run (step empty) instead of one per step.")
@click.option("--bootstrap", "b", type=click.IntRange(100, 100000), default=1000, show_default=True,
              help="Bootstrap replicates for the intervals.")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@db_option
@wait_option
@format_option
@output_option
def awareness(run, classifier, by_environment, pooled, b, seed, db, wait, fmt, output):
    """Eval-awareness prevalence per step, corrected for the classifier's own errors.

    Columns: run, step, n, flagged, raw_rate (share of transcripts the transcript decision flags),
    corrected_rate, ci_lo, ci_hi (95%), estimator, n_labelled, labelled_aware, transfer_warning,
    tpr_t, fpr_t, and — when transcripts carry covert_action — covert rates among aware and
    unaware transcripts. estimator "ppi": your own labels of a random sample of this run
    (`cotwatch label export --transcripts N`, then `label import`) correct the classifier, valid
    whatever its bias; "validation-only": corrected with the classifier's validation transcripts,
    which may not transfer to your run (a note says so); "none": fewer than 10 transcripts.
    Run `cotwatch classify apply` first.
    """
    from cotwatch.analytics.store.database import Store
    from cotwatch.classifiers.prevalence import awareness_prevalence
    from cotwatch.output import emit

    with Store.open(db, wait=wait) as store:
        df = awareness_prevalence(store, run=run, classifier=classifier, by_environment=by_environment, pooled=pooled, b=b,
                                  seed=seed)
    if fmt == "table":
        import polars as pl

        notes = df.filter(pl.col("estimator") == "validation-only")
        if notes.height:
            from cotwatch.output import terminal_safe

            click.echo(terminal_safe("note: " + notes["transfer_warning"][0], keep_newlines=False), err=True)
        # a terminal shows what there is: covert and labelled columns only when the run has them
        df = df.drop("transfer_warning").select([c for c in df.columns if c != "transfer_warning"
                                                 and (df[c].null_count() < df.height or c in KEEP)])
    emit(df, fmt, output)


KEEP = {"run", "step", "n", "flagged", "raw_rate", "corrected_rate", "ci_lo", "ci_hi", "estimator"}
