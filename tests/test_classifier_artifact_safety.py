"""Artifacts are files a user may have been sent: everything in one is checked before it is used
(exit 6, one line), its regexes cannot hang, and loading it never reaches for the model hub."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def _crafted(tmp_path, name="crafted", **changes):
    """A copy of the shipped eval_awareness artifact with some payload fields replaced."""
    import skops.io as sio
    from cotwatch.classifiers.artifacts import ALLOWED_TYPES, shipped_dir

    src = shipped_dir() / "eval_awareness.skops"
    payload = sio.load(src, trusted=list(set(sio.get_untrusted_types(file=src)) & ALLOWED_TYPES))
    payload.update(changes)
    out = tmp_path / f"{name}.skops"
    sio.dump(payload, out)
    return out


def test_a_crafted_catastrophic_regex_cannot_hang_scoring(tmp_path):
    from cotwatch.classifiers.artifacts import load_artifact

    path = _crafted(tmp_path, recall=["(a+)+$", "(x+x+)+y"])
    art = load_artifact(path)
    from cotwatch.classifiers.lexicon import Lexicon

    lex = Lexicon(art.baseline, art.recall)
    assert lex._recall.engine == "duckdb-re2"  # linear-time engine: no backtracking to explode
    hostile = ["a" * 50_000 + "b", "x" * 50_000]
    assert lex.candidates(hostile).tolist() == [False, False]


@pytest.mark.parametrize("change,message", [
    ({"recall": ["(a)\\1"]}, "cannot run in bounded time"),
    ({"recall": ["(?<=x)y"]}, "lookbehind"),
    ({"baseline": [["te(st", 1.0]]}, "baseline"),
    ({"head": "not a model"}, "head is not a fitted binary scikit-learn classifier"),
    ({"head": np.zeros(3)}, "head is not a fitted binary scikit-learn classifier"),
    ({"threshold": 7.0}, "threshold must be in [0, 1]"),
    ({"decision": {"sentence_threshold": 0.5, "alpha": 0.05, "null_scores": np.array([np.nan])}},
     "malformed transcript decision"),
    ({"tuned_layers": {"embeddings.word_embeddings.weight": np.zeros((2, 2), np.float16)}}, "tuned layer"),
])
def test_malformed_artifacts_are_refused_with_exit_6_and_one_line(tmp_path, cli, change, message):
    from cotwatch.analytics.errors import SpecError
    from cotwatch.classifiers.artifacts import load_artifact

    path = _crafted(tmp_path, **change)
    with pytest.raises(SpecError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_artifact(path)
    res = cli("classify", "score", "--classifier", str(path), "--text", "is this a test?")
    assert res.code == 6 and res.err.startswith("cotwatch: error:") and res.err.count("\n") == 1, res
    assert "Traceback" not in res.err


def test_loading_never_contacts_the_hub_whatever_the_environment_says(tmp_path):
    """HF_HUB_OFFLINE=0 in the environment and an artifact naming a hub model: cotwatch loads from
    disk only, fails with one line, and never opens a connection."""
    code = (
        "import socket, os\n"
        "calls = []\n"
        "def refuse(*a, **k):\n    calls.append(a)\n    raise OSError('network disabled in test')\n"
        "socket.socket.connect = refuse\nsocket.create_connection = refuse\n"
        "os.environ['HF_HUB_OFFLINE'] = '0'; os.environ['TRANSFORMERS_OFFLINE'] = '0'\n"
        "from cotwatch.classifiers.embeddings import Encoder\n"
        "from cotwatch.analytics.errors import InputError\n"
        "try:\n    Encoder('sentence-transformers/all-mpnet-base-v2', device='cpu').encode(['x'])\n"
        "except InputError as e:\n    print('REFUSED', str(e).splitlines()[0][:80])\n"
        "print('CONNECTS', len(calls), os.environ['HF_HUB_OFFLINE'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert "REFUSED cannot load embedding model" in out.stdout, out.stdout + out.stderr[-2000:]
    assert "CONNECTS 0 1" in out.stdout, out.stdout


def test_model_cards_ship_as_readable_json():
    from cotwatch.classifiers.artifacts import shipped_dir

    for card in shipped_dir().glob("*.card.json"):
        data = json.loads(card.read_text(encoding="utf-8"))
        assert {"name", "version", "embedding_model", "threshold"} <= set(data)
