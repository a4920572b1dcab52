"""The evidence behind a report's charts, embedded in the page so a click can show it offline.

* KWIC lines per (run, term, step) cell, from ``cotwatch.analytics.terms.kwic``: at most the
  spec's ``kwic_lines`` per cell, one per transcript, for every cell whose term occurs at that
  step (so every step of the terms and heatmap charts has its lines, not only the last).
* Flagged sentences per (run, step, environment) cell, from the public view
  ``main.sentence_scores``: the highest-scoring flagged sentence of each transcript, at most the
  spec's ``sentences`` transcripts per cell, with the sentence's score.

Both are capped by ``max_rows`` (lines per cell shrink first, then evenly spaced steps are
dropped, each time with a note saying so), so a run with hundreds of checkpoints still makes a
page of a few megabytes. Text is kept verbatim; only KWIC context is cut back to whole words
(:func:`whole_words`), with ``…`` where it was cut.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cotwatch.analytics.store.database import Store
from cotwatch.analytics.store.sqlfiles import load_sql
from cotwatch.analytics.terms.concordance import kwic

KWIC_COLUMNS = ["term", "run", "step", "environment", "transcript_id", "left", "match", "right"]
SENTENCE_COLUMNS = ["run", "step", "environment", "transcript_id", "score", "text"]
ELLIPSIS = "…"
#: extra context asked of kwic, so that the cut to whole words happens here (see whole_words)
MARGIN = 20


def whole_words(left: str, right: str, width: int) -> tuple[str, str]:
    """KWIC context cut back to at most ``width`` characters of whole words; the side that was cut
    gets ``…``. Ask kwic for :data:`MARGIN` more characters than shown, so a context that fits
    was not cut and one that does not is cut here, at a word boundary.

    >>> whole_words("   it is what the user wants", "-run quickly. Missing tests", 14)
    ('…the user wants', '-run quickly.…')
    >>> whole_words("   short", "end.", 8)
    ('short', 'end.')
    """
    left, right = left.lstrip(), right.rstrip()
    if len(left) > width:
        at_boundary = left[-width - 1] == " "
        left = left[-width:]
        cut = left.find(" ")
        left = ELLIPSIS + (left if at_boundary or cut in (-1, len(left) - 1) else left[cut + 1:])
    if len(right) > width:
        at_boundary = right[width] == " "
        right = right[:width]
        cut = right.rfind(" ")
        right = (right if at_boundary or cut <= 0 else right[:cut]) + ELLIPSIS
    return left, right


@dataclass(frozen=True)
class KwicPlan:
    """Which (run, term, step) cells get lines and how many per cell, within the row budget."""

    cells: list[tuple[str, str, int]]
    lines: int
    notes: list[str]


def plan_kwic(cells: Sequence[tuple[str, str, int]], lines: int, max_rows: int) -> KwicPlan:
    """Fit ``cells`` × ``lines`` into ``max_rows``: fewer lines per cell first, then every k-th
    step of each (run, term) (first and last kept)."""
    notes: list[str] = []
    cells = list(cells)
    if not cells:
        return KwicPlan([], lines, notes)
    if len(cells) * lines > max_rows:
        fit = max(1, max_rows // len(cells))
        if fit < lines:
            notes.append(f"KWIC lines: {fit} per cell instead of {lines}, to keep the page within "
                         f"{max_rows:,} evidence rows")
            lines = fit
    if len(cells) * lines > max_rows:
        by_series: dict[tuple[str, str], list[int]] = {}
        for run, term, step in cells:
            by_series.setdefault((run, term), []).append(step)
        keep_per_series = max(2, max_rows // (lines * len(by_series)))
        kept = []
        for (run, term), steps in by_series.items():
            steps = sorted(steps)
            if len(steps) > keep_per_series:
                idx = {round(i * (len(steps) - 1) / (keep_per_series - 1)) for i in range(keep_per_series)}
                steps = [s for i, s in enumerate(steps) if i in idx]
            kept += [(run, term, s) for s in steps]
        notes.append(f"KWIC lines for {len(kept):,} of {len(cells):,} (term, step) cells (evenly spaced steps), "
                     f"to keep the page within {max_rows:,} evidence rows")
        cells = kept[: max(1, max_rows // lines)]
    return KwicPlan(cells, lines, notes)


def kwic_evidence(store: Store, plan: KwicPlan, *, width: int, scope: str, watchlist: str | None,
                  progress: Callable[[int], None] | None = None):
    """KWIC rows for every planned cell: one line per transcript, ``plan.lines`` per cell."""
    import polars as pl

    frames = []
    for i, (run, term, step) in enumerate(plan.cells):
        df = kwic(store, term, run=run, step=step, width=width + MARGIN, limit=plan.lines * 4, scope=scope,
                  watchlist=watchlist)
        if df.height:
            frames.append(df.unique("transcript_id", keep="first", maintain_order=True).head(plan.lines)
                          .with_columns(pl.lit(term).alias("term")))
        if progress is not None:
            progress(i + 1)
    if not frames:
        return pl.DataFrame(schema={c: (pl.Int64 if c == "step" else pl.String) for c in KWIC_COLUMNS})
    df = pl.concat(frames, how="vertical_relaxed")
    cut = [whole_words(left, right, width) for left, right in zip(df["left"].to_list(), df["right"].to_list())]
    return df.with_columns(
        pl.Series("left", [c[0] for c in cut], pl.String), pl.Series("right", [c[1] for c in cut], pl.String),
        pl.col("environment").fill_null("(none)"), pl.col("step").cast(pl.Int64),
    ).select(KWIC_COLUMNS).sort("run", "term", "step", maintain_order=True)


def sentence_evidence(store: Store, classifier: str, runs: Sequence[str], per_cell: int):
    """The top flagged sentence of each transcript, ``per_cell`` transcripts per (run, step,
    environment), highest score first (from the public view ``sentence_scores``)."""
    import polars as pl

    df = store.frame(load_sql("report_cell_sentences", __package__),
                     {"classifier": classifier, "runs": list(runs), "per_cell": per_cell})
    return df.with_columns(pl.col("environment").fill_null("(none)"), pl.col("step").cast(pl.Int64)).select(SENTENCE_COLUMNS)
