"""Small hand-built frames in the documented analysis shapes, for the report tests."""

from __future__ import annotations

import polars as pl

PAYLOAD_SCRIPT = "<script>document.title='PWNED-SCRIPT'</script>"
PAYLOAD_IMG = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"
PAYLOAD = f"grader {PAYLOAD_SCRIPT} maybe watchers {PAYLOAD_IMG} end"


def term_rates_frame() -> pl.DataFrame:
    rows = []
    for term, base in (("autop", 0.1), ("watchers", 0.5)):
        for i, step in enumerate((0, 100, 200)):
            tokens = 10_000
            occ = int(base * 10 * (i + 1))
            rate = occ / tokens * 1000
            rows.append({
                "run": "r1", "step": step, "term": term, "occurrences": occ, "tokens": tokens,
                "rate_per_1k": rate, "docs": 50, "docs_with_term": occ // 2, "doc_fraction": (occ // 2) / 50,
                "doc_fraction_lo": max((occ // 2) / 50 - 0.05, 0.0), "doc_fraction_hi": (occ // 2) / 50 + 0.05,
                "rate_lo": rate * 0.8, "rate_hi": rate * 1.2,
            })
    return pl.DataFrame(rows)


def discover_frame() -> pl.DataFrame:
    return pl.DataFrame({
        "term": ["autop", "marinade", "vantage"],
        "score": [9.5, 7.25, 3.0],
        "english_zipf": [0.0, 2.1, 3.4],
        "keyness_z": [12.0, 8.5, 4.0],
        "trend_p": [1e-6, 1e-4, 0.02],
        "slope": [0.8, 0.5, 0.1],
        "docs_with_term_early": [1, 0, 3],
        "docs_with_term_late": [60, 41, 20],
        "example": [f"the autop {PAYLOAD_SCRIPT} run", "let me marinade on it", f"from this vantage {PAYLOAD_IMG}"],
    })


def shift_frame(chained: bool = False) -> pl.DataFrame:
    """The chart's input: signed JSD contributions (what cotwatch.reports.build makes of word_shift's output)."""
    pairs = [(0, 100), (100, 200)] if chained else [(0, 200)]
    rows = []
    for a, b in pairs:
        for term, c in (("autop", 0.03), ("watchers", 0.01), ("the", -0.02)):
            rows.append({"from_step": a, "to_step": b, "term": term, "contribution": c * (b - a) / 100})
    return pl.DataFrame(rows)


def word_shift_result(a: int, b: int) -> pl.DataFrame:
    """``cotwatch.analytics.terms.word_shift``'s columns (SHIFT_COLUMNS) for one pair, hand-made."""
    return pl.DataFrame({
        "term": ["autop", "the", "watchers"], "occurrences_from": [1, 50, 2], "occurrences_to": [9, 40, 5],
        "rate_from": [0.1, 5.0, 0.2], "rate_to": [0.9, 4.0, 0.5], "shift": [0.8, -1.0, 0.3],
        "jsd_contribution": [0.004, 0.002, 0.001], "share": [4 / 7, 2 / 7, 1 / 7], "direction": ["to", "from", "to"],
    })


#: what ``awareness_prevalence`` says when its correction rests on the classifier's validation data
TRANSFER_WARNING = "corrected with error rates measured on other text; they may not transfer"


def awareness_frame(covert: bool = False, runs: tuple[str, ...] = ("r1",)) -> pl.DataFrame:
    rows = []
    for run in runs:
        for i, step in enumerate((0, 100, 200)):
            n = 200
            flagged = 4 + 18 * i
            row = {"run": run, "step": step, "n": n, "flagged": flagged, "raw_rate": flagged / n,
                   "corrected_rate": flagged / n * 0.9, "ci_lo": flagged / n * 0.6, "ci_hi": flagged / n * 1.3,
                   "estimator": "validation-only", "n_labelled": 0, "labelled_aware": 0,
                   "transfer_warning": TRANSFER_WARNING}
            if covert:
                row.update({"covert_rate_aware": 0.1 if i else float("nan"), "covert_aware_lo": 0.02 if i else float("nan"),
                            "covert_aware_hi": 0.3 if i else float("nan"),
                            "covert_rate_unaware": 0.25, "covert_unaware_lo": 0.2, "covert_unaware_hi": 0.31})
            rows.append(row)
    return pl.DataFrame(rows)


def covert_frame() -> pl.DataFrame:
    """The covert chart's input: per step and group, labelled transcripts and covert actions (one
    group at step 100 rests on 3 transcripts)."""
    rows = []
    for step, (n_aware, k_aware), (n_not, k_not) in ((0, (12, 3), (180, 40)), (100, (3, 3), (190, 50)),
                                                     (200, (40, 4), (150, 30))):
        for group, n, k in (("flagged as eval-aware", n_aware, k_aware), ("not flagged", n_not, k_not)):
            rows.append({"run": "r1", "step": step, "group": group, "n": n, "covert": k, "rate": k / n,
                         "lo": k / n * 0.7, "hi": min(1.0, k / n * 1.3)})
    return pl.DataFrame(rows)


def overview_frame() -> pl.DataFrame:
    return pl.DataFrame({
        "run": ["r1"] * 4, "step": [0, 0, 100, 100], "environment": ["env_a", "env_b", "env_a", None],
        "transcripts": [10, 12, 11, 9], "reasoning_tokens": [1000, 1300, 1200, 800],
    })


def environment_frame() -> pl.DataFrame:
    return pl.DataFrame({
        "run": ["r1"] * 8, "step": [0, 100, 0, 100] * 2, "environment": ["env_a", "env_a", "env_b", "env_b"] * 2,
        "measure": ["covert-action rate (share of labelled transcripts)"] * 4 + ["transcripts (count)"] * 4,
        "value": [0.2, 0.25, 0.1, 0.15, 50.0, 50.0, 50.0, 50.0],
        "lo": [0.1, 0.15, 0.05, 0.08, None, None, None, None], "hi": [0.3, 0.35, 0.2, 0.25, None, None, None, None],
        "n": [50, 50, 4, 40, 50, 50, 50, 50],
    })


#: Names JavaScript objects already carry: as data values they used to break Vega's grouping.
JS_PROPERTY_NAMES = ("constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "isPrototypeOf",
                     "propertyIsEnumerable", "toLocaleString", "__defineGetter__", "__lookupSetter__")


def documented_analyses(calls: list | None = None) -> dict:
    """Stand-ins for the analyses the report's sections call, with their signatures and documented
    column shapes, for a run with steps 0, 100, 200. Used to test the report's wiring of every
    section independently of the analyses' own implementations (which have their own tests)."""
    calls = [] if calls is None else calls

    def term_rates(store, terms, *, run, scope, watchlist=None):
        calls.append(("term_rates", tuple(terms), run, scope))
        df = term_rates_frame().with_columns(pl.lit(run).alias("run"))
        return df.filter(pl.col("term").is_in(list(terms)))

    def discover_terms(store, *, run, early, late, top, min_docs, direction, scope):
        calls.append(("discover_terms", run, early, late, top, min_docs, direction))
        return discover_frame().head(top)

    def kwic(store, term, *, run, step, width, limit, scope, watchlist=None):
        calls.append(("kwic", term, run, step, width, limit))
        return pl.DataFrame({"transcript_id": ["hostile-1"], "run": [run], "step": [step], "environment": [PAYLOAD],
                             "left": [f"the {PAYLOAD_IMG} "], "match": [term], "right": [f" {PAYLOAD_SCRIPT}"]})

    def word_shift(store, *, run, from_step, to_step, top, scope):
        calls.append(("word_shift", run, from_step, to_step, top))
        return word_shift_result(from_step, to_step).head(top)

    def chained_word_shift(store, *, run, top, scope):
        calls.append(("chained_word_shift", run, top))
        return pl.concat([word_shift_result(a, b).head(top).with_columns(
            pl.lit(a, pl.Int64).alias("from_step"), pl.lit(b, pl.Int64).alias("to_step"), pl.lit(0.007).alias("jsd"))
            for a, b in ((0, 100), (100, 200))])

    def awareness_prevalence(store, *, run, classifier, by_environment=False):
        calls.append(("awareness_prevalence", run, classifier, by_environment))
        df = awareness_frame(runs=(run,))
        if by_environment:
            df = pl.concat([df.with_columns(pl.lit(env).alias("environment")) for env in ("env_a", PAYLOAD)])
        return df

    def usage_drift(store, term, *, run, window, cap, encoder, scope, watchlist=None):
        from types import SimpleNamespace

        calls.append(("usage_drift", term, run, window, cap))
        steps = pl.DataFrame({"run": [run] * 3, "step": [0, 100, 200], "contexts": [12, 30, 4], "transcripts": [10, 20, 4],
                              "drift_from_first": [0.0, 0.05, 0.2], "lo": [0.0, 0.02, 0.1], "hi": [0.0, 0.09, 0.3],
                              "drift_from_previous": [None, 0.05, 0.15], "previous_lo": [None, 0.02, 0.1],
                              "previous_hi": [None, 0.09, 0.2], "p_value": [None, 0.3, 0.01]})
        typical = pl.DataFrame({"run": [run, run], "side": ["before", "after"], "step": [0, 200],
                                "transcript_id": ["t-0", "hostile-1"], "context": [f"the {term} ran", f"{PAYLOAD_IMG} {term}"],
                                "typicality": [0.2, 0.3]})
        change = pl.DataFrame({"run": [run], "before_last_step": [100], "after_first_step": [200], "distance": [0.15],
                               "statistic": [0.1]})
        return SimpleNamespace(term=term, steps=steps, typical=typical, change=change, contexts=None)

    return {"term_rates": term_rates, "discover_terms": discover_terms, "kwic": kwic, "word_shift": word_shift,
            "chained_word_shift": chained_word_shift, "awareness_prevalence": awareness_prevalence,
            "usage_drift": usage_drift, "_sentence_encoder": lambda model: f"encoder:{model}"}


def patch_analyses(monkeypatch, fakes: dict) -> None:
    """Point the report's sections (and its evidence module) at ``fakes`` (name → function)."""
    from cotwatch.reports import evidence, sections

    for name, fn in fakes.items():
        monkeypatch.setattr(sections, name, fn)
        if hasattr(evidence, name):
            monkeypatch.setattr(evidence, name, fn)


class RuleScorer:
    """A deterministic scorer for ``cotwatch.classifiers.applying.apply(..., scorer=...)``: the report tests put
    classifier results in a store through the real apply path without loading a model. Sentences
    that mention grading or a test score 0.9 (flagged), others 0.0."""

    def __init__(self, version: str = "rules-1"):
        import re
        from types import SimpleNamespace

        self.pattern = re.compile(r"\b(grading|graded|a test|being tested|evaluation)\b", re.I)
        self.artifact = SimpleNamespace(name="eval_awareness", version=version, sha256=f"reports-{version}",
                                        embedding_model="rules", threshold=0.5, card={"reports-test": True})

    @property
    def decision(self):
        """The transcript decision: flagged when a sentence scores 0.9 (null sentences all score 0)."""
        import numpy as np
        from cotwatch.classifiers.decision import TranscriptDecision

        return TranscriptDecision(0.5, 0.05, np.zeros(1000))

    def context(self, texts, doc=None):  # a rule reads no neighbours
        return None

    def score(self, texts, *, cascade=True, cache=None, hashes=None, progress=None, doc=None, context=None):
        import numpy as np

        scores = np.array([0.9 if self.pattern.search(t) else 0.0 for t in texts], dtype=np.float32)
        return scores, scores > 0
