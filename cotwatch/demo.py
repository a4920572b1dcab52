"""`cotwatch demo`: the main job on an embedded default.

Generates a realistic synthetic RL run (``cotwatch.analytics.synth.generator``), ingests it into a fresh store
``DIR/cotwatch.duckdb`` and runs every analysis the package has, writing each result under
``DIR`` and finally the HTML report ``DIR/report/index.html``. The store is built in a temporary
directory beside ``DIR`` and moved into place, so an interrupted demo leaves no half-built store.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

Log = Callable[[str], None]


@dataclass
class DemoResult:
    out: Path
    store: Path
    outputs: dict[str, Path] = field(default_factory=dict)


def build_demo_store(out: Path, *, checkpoints: int = 12, transcripts_per_checkpoint: int = 50,
                     seed: int = 0, log: Log = lambda _: None) -> Path:
    """Generate the synthetic run and ingest it into a fresh ``out/cotwatch.duckdb``."""
    from cotwatch.analytics.ingest.loading import ingest_paths
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.synth import generator as synth

    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".demo-", dir=out))
    try:
        jsonl = out / "demo-run.jsonl.gz"
        summary = synth.write_jsonl(work / jsonl.name, checkpoints=checkpoints,
                                    transcripts_per_checkpoint=transcripts_per_checkpoint, seed=seed)
        (work / jsonl.name).replace(jsonl)
        log(f"generated {summary['records']} transcripts ({summary['bytes'] / 1e6:.1f} MB of JSONL) in {jsonl}")
        with Store.open(work / "cotwatch.duckdb", read_only=False) as store:
            [result] = ingest_paths(store, [jsonl])
        log(result.summary())
        (work / "cotwatch.duckdb").replace(out / "cotwatch.duckdb")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out / "cotwatch.duckdb"


def run_demo(out: str | Path = "demo", *, checkpoints: int = 12, transcripts_per_checkpoint: int = 50,
             seed: int = 0, log: Log = lambda _: None) -> DemoResult:
    """Build the demo store and run every analysis on it. Returns where the results are."""
    out = Path(out)
    store_path = build_demo_store(out, checkpoints=checkpoints,
                                  transcripts_per_checkpoint=transcripts_per_checkpoint, seed=seed, log=log)
    result = DemoResult(out, store_path)
    for step in DEMO_STEPS:
        step(result, log)
    return result


def _write(result: DemoResult, name: str, df) -> None:
    path = result.out / "results" / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    df.write_csv(path)
    result.outputs[name] = path


def _runs(result: DemoResult, log: Log) -> None:
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.summary import runs_summary

    with Store.open(result.store) as store:
        df = runs_summary(store)
    _write(result, "runs", df)
    row = df.row(0, named=True)
    log(f"runs: {row['run']}: {row['steps']} steps, {row['environments']} environments, "
        f"{row['transcripts']} transcripts, {row['reasoning_tokens']} reasoning tokens")


def _terms(result: DemoResult, log: Log) -> None:
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.terms.discover import discover_terms
    from cotwatch.analytics.terms.rates import term_rates, term_trends
    from cotwatch.analytics.terms.shift import word_shift
    from cotwatch.analytics.terms.specs import load_watchlist
    watchlist = load_watchlist()  # the shipped default
    with Store.open(result.store) as store, warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always")
        rates = term_rates(store, [], watchlist=watchlist)
        trends = term_trends(store, [], watchlist=watchlist)
        rising = discover_terms(store, top=20)
        falling = discover_terms(store, top=10, direction="falling")
        steps = sorted(rates["step"].unique().to_list())
        shift = word_shift(store, from_step=steps[0], to_step=steps[-1], top=20)
    for name, df in (("term_rates", rates), ("term_trends", trends), ("emergent_terms", rising),
                     ("fading_terms", falling), ("word_shift", shift)):
        _write(result, name, df)
    for note in dict.fromkeys(str(w.message) for w in notes):  # e.g. a watchlist phrase the demo run never uses
        log(f"terms: note: {note}")
    significant = trends.filter(trends["trend_p"] < 0.05)
    log(f"terms: {trends.height} watchlist terms tracked, {significant.height} with a significant trend; "
        f"top emergent: {', '.join(rising['term'].head(8).to_list())}")


def _classifiers(result: DemoResult, log: Log) -> None:
    from cotwatch.analytics.errors import CotwatchError
    from cotwatch.analytics.store.database import Store
    from cotwatch.classifiers.applying import apply
    from cotwatch.classifiers.prevalence import awareness_prevalence

    with Store.open(result.store, read_only=False) as store:
        for name in ("eval_awareness", "grader_seeking"):
            stats = apply(store, name)
            log(f"classify {name}: {stats.sentences} sentences, {stats.encoded} encoded by the transformer, "
                f"{stats.flagged_transcripts} transcripts flagged ({stats.seconds:.1f}s)")
    try:
        with Store.open(result.store) as store:
            per_step = awareness_prevalence(store)
            pooled = awareness_prevalence(store, pooled=True)
    except CotwatchError as exc:  # the demo goes on to its report, which says the same on the page
        log(f"awareness: not estimated: {exc}")
        return
    _write(result, "awareness", per_step)
    _write(result, "awareness_pooled", pooled)
    first, last = per_step.row(0, named=True), per_step.row(-1, named=True)

    def share(row, col):
        return "no corrected estimate" if row[col] is None else f"{row[col]:.1%}"

    log(f"awareness: corrected rate {share(first, 'corrected_rate')} at step {first['step']} → "
        f"{share(last, 'corrected_rate')} at step {last['step']} "
        f"(95% CI {share(last, 'ci_lo')}–{share(last, 'ci_hi')})")


def _report(result: DemoResult, log: Log) -> None:
    from cotwatch.reports import write_report

    out = write_report(result.store, None, result.out / "report", log=lambda msg: log(f"report: {msg}"))
    result.outputs["report"] = out / "index.html"


DEMO_STEPS: list[Callable[[DemoResult, Log], None]] = [_runs, _terms, _classifiers, _report]
