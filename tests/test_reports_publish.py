"""Publishing a report (issue 17): nothing cotwatch did not write is ever deleted, a symlinked
``--out`` is written through, leftovers of killed runs are cleaned, and every failure to write is
one line with exit code 3. Each case was reproduced against the previous writer first."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_reports import REPO, write_store


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return write_store(tmp_path_factory.mktemp("publish") / "store.duckdb", checkpoints=2, per_checkpoint=2)


def _report(cli, out, store, *extra):
    return cli("report", "--out", out, "--db", store, "--no-images", "--quiet", *extra)


def _siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_foreign_directory_with_a_report_json_is_never_emptied(cli, store, tmp_path):
    """`mkdir d; echo '{}' >d/report.json; echo x >d/thesis.tex; cotwatch report --out d` used to
    delete thesis.tex: a bare report.json proves nothing."""
    out = tmp_path / "d"
    out.mkdir()
    (out / "report.json").write_text("{}")
    (out / "thesis.tex").write_text("x")
    (out / ".git").mkdir()
    (out / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    r = _report(cli, out, store)
    assert r.code == 3 and r.err.count("\n") == 1, r
    assert r.err.startswith(f"cotwatch: error: --out {out}: directory exists, is not empty and was not written by cotwatch")
    assert (out / "thesis.tex").read_text() == "x" and (out / "report.json").read_text() == "{}"
    assert (out / ".git" / "HEAD").exists()
    assert _siblings(out) == ["d"]  # no staging directory left behind


def test_a_foreign_directory_is_refused_without_listing_it(monkeypatch, tmp_path):
    """`--out ~` or `--out /`: refused at once, before a single file of it is listed."""
    from cotwatch.analytics.errors import OutputError
    from cotwatch.reports import publish

    def walk(root):
        raise AssertionError(f"walked {root}")

    monkeypatch.setattr(publish, "_walk_files", walk)
    home = tmp_path / "home"
    (home / "src").mkdir(parents=True)
    (home / "src" / "thesis.tex").write_text("x")
    with pytest.raises(OutputError, match="was not written by cotwatch"):
        publish.resolve_target(home)
    with pytest.raises(OutputError, match="was not written by cotwatch"):
        publish.resolve_target("/")


def test_a_file_added_to_a_report_makes_it_foreign(cli, store, tmp_path):
    out = tmp_path / "r"
    assert _report(cli, out, store).code == 0
    before = sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))
    (out / "CNAME").write_text("reports.example.org\n")
    (out / "data" / "my-notes.md").write_text("keep me")
    r = _report(cli, out, store)
    assert r.code == 3 and "holds files cotwatch did not write (CNAME, data/my-notes.md)" in r.err, r
    assert (out / "CNAME").exists() and (out / "data" / "my-notes.md").read_text() == "keep me"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == sorted(before + ["CNAME", "data/my-notes.md"])
    assert _siblings(out) == ["r"]


def test_a_report_is_replaced_file_by_file_from_its_manifest(cli, store, tmp_path):
    from cotwatch.reports.publish import MARKER, read_marker

    out = tmp_path / "r"
    assert _report(cli, out, store).code == 0
    first = json.loads((out / "report.json").read_text())["generated_at"]
    inode = (out / "index.html").stat().st_ino
    assert _report(cli, out, store).code == 0
    assert json.loads((out / "report.json").read_text())["generated_at"] > first
    assert (out / "index.html").stat().st_ino != inode
    manifest = read_marker(out)
    assert manifest == {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != MARKER}
    assert _siblings(out) == ["r"]


def test_an_empty_directory_and_a_missing_parent_are_fine(cli, store, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _report(cli, empty, store).code == 0 and (empty / "index.html").exists()
    deep = tmp_path / "a" / "b" / "c"
    assert _report(cli, deep, store).code == 0 and (deep / "index.html").exists()


def test_a_symlinked_out_is_written_through(cli, store, tmp_path):
    """--out a symlink used to replace the link with a directory and leave a `.link.tmp-*` behind."""
    target = tmp_path / "www" / "drift"
    target.parent.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target, target_is_directory=True)  # dangling: the first run creates the target
    for _ in range(2):
        r = _report(cli, link, store)
        assert r.code == 0, r
        assert link.is_symlink() and os.readlink(link) == str(target)
        assert (target / "index.html").exists() and (link / "report.json").exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "www"]
        assert _siblings(target) == ["drift"]


def test_stale_staging_directories_of_dead_processes_are_removed(cli, store, tmp_path):
    """A killed report used to leave its `.DIR.tmp-*` (2.4 MB) forever. Only cotwatch's own
    leftovers (marker inside) of processes that are gone are removed."""
    from cotwatch.analytics.store.atomic import host_tag as _host_tag
    from cotwatch.reports.publish import TOOL_ID

    out = tmp_path / "r"
    host = _host_tag()
    dead, alive = _dead_pid(), os.getpid()

    def leftover(name: str, marker: bool) -> Path:
        d = tmp_path / name
        (d / "data").mkdir(parents=True)
        (d / "data" / "x.csv").write_text("a\n1\n")
        if marker:
            (d / ".cotwatch-report").write_text(TOOL_ID + '\n{"state": "staging", "files": []}\n')
        return d

    stale = leftover(f".r.cotwatch-tmp-{host}-{dead}-abc123", marker=True)
    retired = leftover(f".r.cotwatch-old-{host}-{dead}-def456", marker=True)
    running = leftover(f".r.cotwatch-tmp-{host}-{alive}-ghi789", marker=True)
    unmarked = leftover(f".r.cotwatch-tmp-{host}-{dead}-jkl012", marker=False)
    other_host = leftover(f".r.cotwatch-tmp-000000-{dead}-mno345", marker=True)
    lines: list[str] = []
    from cotwatch.reports.write import write_report

    write_report(store, None, out, images=False, log=lines.append)
    assert not stale.exists() and not retired.exists()
    assert running.exists() and unmarked.exists() and other_host.exists()
    assert any(f"left by an interrupted report (process {dead})" in line for line in lines)


@pytest.mark.slow
def test_a_killed_report_is_cleaned_up_by_the_next_run(store, tmp_path):
    out = tmp_path / "r"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "cotwatch", "report", "--out", str(out), "--db", str(store), "--quiet"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    staging = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not staging:
        staging = [p for p in tmp_path.iterdir() if ".cotwatch-tmp-" in p.name and (p / "data").exists()]
        time.sleep(0.05)
    assert staging, "the report never started writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert staging[0].exists()  # what the killed run left
    done = subprocess.run(cmd + ["--no-images"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


@pytest.mark.parametrize("out, message", [
    ("/proc/x", "--out /proc/x: cannot create a directory in /proc"),
    ("/proc/self/x/y", "--out /proc/self/x/y: cannot create /proc/self/x"),
])
def test_unwritable_out_is_one_line(cli, store, out, message):
    r = _report(cli, out, store)
    assert r.code == 3 and r.err.startswith(f"cotwatch: error: {message}") and r.err.count("\n") == 1, r
    assert "Traceback" not in r.err


def test_out_that_is_a_file_is_one_line(cli, store, tmp_path):
    f = tmp_path / "file"
    f.write_text("mine")
    r = _report(cli, f, store)
    assert r.code == 3 and r.err == f"cotwatch: error: --out {f}: exists and is not a directory\n" and f.read_text() == "mine", r


def test_a_marker_of_another_tool_is_not_ours(cli, store, tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / ".cotwatch-report").write_text('not cotwatch\n{"state": "complete", "files": ["index.html"]}\n')
    (out / "index.html").write_text("someone else's page")
    r = _report(cli, out, store)
    assert r.code == 3 and "not written by cotwatch" in r.err
    assert (out / "index.html").read_text() == "someone else's page"


def _legacy_report(root: Path) -> None:
    """A report as the previous version wrote it: no marker, report.json format cotwatch-report/1."""
    (root / "data").mkdir(parents=True)
    (root / "charts").mkdir()
    for rel in ("index.html", "data/overview.csv", "charts/overview.svg", "charts/overview.png", "data/overview_runs.csv"):
        (root / rel).write_text("old")
    (root / "report.json").write_text(json.dumps({"format": "cotwatch-report/1", "transcripts": 3, "runs": ["rl"], "files": {
        "overview": {"csv": "data/overview.csv", "svg": "charts/overview.svg", "png": "charts/overview.png"},
        "overview_runs": {"csv": "data/overview_runs.csv"}}}))


def test_a_report_of_the_previous_version_is_replaced(cli, store, tmp_path):
    out = tmp_path / "r"
    _legacy_report(out)
    _legacy_report(out / "history" / "2026-01-05")
    (out / "history" / "index.html").write_text("old index")
    assert _report(cli, out, store).code == 0
    assert json.loads((out / "report.json").read_text())["format"] == "cotwatch-report/2"
    assert not (out / "charts").exists()  # --no-images: the old charts went with the old report
    assert (out / "history" / "2026-01-05" / "index.html").read_text() == "old"  # history carried over
    assert _siblings(out) == ["r"]


def test_a_previous_version_report_with_foreign_files_is_refused(cli, store, tmp_path):
    out = tmp_path / "r"
    _legacy_report(out)
    (out / "thesis.tex").write_text("x")
    r = _report(cli, out, store)
    assert r.code == 3 and "holds files cotwatch did not write (thesis.tex)" in r.err and (out / "thesis.tex").exists()


def test_history_keeps_dated_copies(store, tmp_path):
    from cotwatch.reports.write import write_report

    out = tmp_path / "report"
    write_report(store, None, out, images=False)
    assert 'href="history/index.html"' not in (out / "index.html").read_text()  # no link to nothing
    write_report(store, None, out, history=True, images=False)
    [day] = [p.name for p in (out / "history").iterdir() if p.is_dir()]
    assert (out / "history" / day / "index.html").read_bytes() == (out / "index.html").read_bytes()
    assert not (out / "history" / day / "history").exists() and not (out / "history" / day / ".cotwatch-report").exists()
    # an older copy (as a previous week's run would have left) is carried over and listed ...
    (out / "history" / "2000-01-03").mkdir()
    for f in ("index.html", "report.json"):
        (out / "history" / "2000-01-03" / f).write_bytes((out / "history" / day / f).read_bytes())
    # ... once it is part of a report cotwatch wrote: a copy put there by hand is a foreign file
    with pytest.raises(Exception, match="holds files cotwatch did not write"):
        write_report(store, None, out, images=False)
    from cotwatch.reports import publish

    marker = (out / publish.MARKER).read_text().split("\n", 1)
    meta = json.loads(marker[1])
    meta["files"] += ["history/2000-01-03/index.html", "history/2000-01-03/report.json"]
    (out / publish.MARKER).write_text(marker[0] + "\n" + json.dumps(meta))
    write_report(store, None, out, images=False)  # without --history: copies kept, none added
    assert sorted(p.name for p in (out / "history").iterdir()) == ["2000-01-03", day, "index.html"]
    index = (out / "history" / "index.html").read_text()
    assert index.index(f'href="{day}/index.html"') < index.index('href="2000-01-03/index.html"')
    assert "transcripts, runs: rl" in index
    assert 'href="history/index.html"' in (out / "index.html").read_text()


def test_failed_run_leaves_previous_report_intact(store, tmp_path, monkeypatch):
    from cotwatch.reports import write

    out = tmp_path / "report"
    write.write_report(store, None, out, images=False)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def broken(built, root, **kwargs):
        (root / "index.html").write_text("half a report")
        raise RuntimeError("disk full")

    monkeypatch.setattr(write, "_render", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        write.write_report(store, None, out, images=False)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # no temporary directory left behind


def test_exchange_swaps_directories_in_one_step(tmp_path):
    from cotwatch.reports.publish import _exchange

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("new")
    (b / "x").write_text("old")
    if not _exchange(a, b):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available on this system (two renames are used instead)")
    assert (b / "x").read_text() == "new" and (a / "x").read_text() == "old"


def test_long_run_name_and_long_out_name(cli, tmp_path):
    """A run name of 230 characters used to fail the whole report ("File name too long"): file
    names made from run names are bounded and hashed; so is the staging directory's name."""
    from cotwatch.analytics.synth import generator as synth

    long_run = "run-" + "x" * 226
    extra = [dict(r, run=long_run) for r in synth.generate_run(run=long_run, checkpoints=3, transcripts_per_checkpoint=2,
                                                                environments=synth.DEFAULT_ENVIRONMENTS[:2], seed=5)]
    store = write_store(tmp_path / "s.duckdb", checkpoints=3, per_checkpoint=2, payload=False, extra=extra)
    out = tmp_path / ("o" * 250)
    spec = tmp_path / "spec.toml"
    spec.write_text("[sections.overview]\n[sections.emergent]\nmin_docs = 1\n[sections.word_shift]\n")
    r = cli("report", spec, "--out", out, "--db", store, "--quiet")
    assert r.code == 0, r
    meta = json.loads((out / "report.json").read_text())
    assert long_run in meta["runs"]
    names = [p.name for p in out.rglob("*")]
    assert max(len(n) for n in names) <= 100 and any(n.startswith("emergent_terms__run-xxx") for n in names)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, "s.duckdb", "s.jsonl.gz", "spec.toml"])
