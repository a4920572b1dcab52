"""`cotwatch demo`: the main job on an embedded default.

Generates a realistic synthetic RL run (``analytics.synth``), ingests it into a fresh store
``DIR/cotwatch.duckdb`` and runs every analysis the package has, writing each result under
``DIR`` and finally the HTML report ``DIR/report/index.html``. The store is built in a temporary
directory beside ``DIR`` and moved into place, so an interrupted demo leaves no half-built store.
"""

from __future__ import annotations

import shutil
import tempfile
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
    from analytics import synth
    from analytics.ingest import ingest_paths
    from analytics.store import Store

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
    from analytics.store import Store
    from analytics.summary import runs_summary

    with Store.open(result.store) as store:
        df = runs_summary(store)
    _write(result, "runs", df)
    row = df.row(0, named=True)
    log(f"runs: {row['run']}: {row['steps']} steps, {row['environments']} environments, "
        f"{row['transcripts']} transcripts, {row['reasoning_tokens']} reasoning tokens")


DEMO_STEPS: list[Callable[[DemoResult, Log], None]] = [_runs]
