"""Publishing a report directory: never delete what cotwatch did not write.

A report is built in a fresh staging directory beside its destination and then swapped into
place, so a reader never sees half a report and a failed run leaves the previous one. The steps:

1. :func:`resolve_target` — ``--out`` as given; a symlink is followed (the report is written where
   it points and the link stays a link); the destination must be absent, an empty directory or a
   directory cotwatch wrote itself (see below), else :class:`OutputError` with one line.
2. :func:`clean_stale` — staging (``.NAME.cotwatch-tmp-…``) and retired (``.NAME.cotwatch-old-…``)
   directories left beside it by a cotwatch process that died (same host, process gone, marker
   present) are removed; anything else with a similar name is left alone.
3. :func:`stage` — the staging directory, with a marker naming this process.
4. :func:`carry_history` — ``history/`` of the previous report is carried over by hard links, a
   dated copy is added on request, and ``history/index.html`` is rewritten.
5. :func:`seal` then :func:`publish` — the marker lists every file written; the staging directory
   is exchanged with the destination (``renameat2(RENAME_EXCHANGE)`` on Linux; elsewhere two
   renames) and the previous report is removed file by file from its manifest.

**Which directory is "ours"**: one holding a ``.cotwatch-report`` marker whose first line is
:data:`TOOL_ID` and whose manifest lists every file in it. A bare ``report.json`` proves nothing
(any tool may write one), and a file the user added to a report directory after it was written
makes it foreign again: ``cotwatch report`` then refuses, naming the file, instead of deleting it.
A report written by cotwatch before the marker existed (``report.json`` with format
``cotwatch-report/1``) is recognised when every file in it is one such a report writes.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cotwatch.analytics.errors import OutputError
from cotwatch.analytics.store.atomic import host_tag, pid_alive

#: The marker file's name and the first line it must hold: cotwatch's own id for reports
#: (a fixed random UUID, so no other tool writes it by accident).
MARKER = ".cotwatch-report"
TOOL_ID = "cotwatch-report 5d0b6f1e-7c0a-4a53-9a52-2f3b1c8e4d17"
MARKER_FORMAT = "cotwatch-report-marker/1"
#: the staging and retired directories' infixes
_TMP, _OLD = ".cotwatch-tmp-", ".cotwatch-old-"
#: a destination's name is cut to this many characters inside the staging name (+ a hash of the
#: whole name), so a 255-character --out still gives a legal staging name
_NAME_KEEP = 60
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Target:
    """Where a report goes. ``path`` is the real directory (a symlinked ``--out`` resolved);
    ``given`` is what the user asked for."""

    given: Path
    path: Path
    manifest: frozenset[str] | None   # files of the previous report (None: there is none)


# -- 1. the destination --------------------------------------------------------------------------
def resolve_target(out: str | os.PathLike[str]) -> Target:
    """Check ``out`` can take a report without losing anything; see the module docstring."""
    given = Path(out).absolute()
    path = given
    if given.is_symlink():
        path = Path(os.path.realpath(given))
    if path.exists() and not path.is_dir():
        raise OutputError(f"--out {given}: exists and is not a directory")
    if not path.exists():
        if not path.parent.is_dir():
            _make_parent(given, path.parent)
        return Target(given, path, None)
    return Target(given, path, _check_ours(given, path))


def _make_parent(given: Path, parent: Path) -> None:
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"--out {given}: cannot create {parent}: {exc.strerror or exc}") from None


def _check_ours(given: Path, path: Path) -> frozenset[str] | None:
    """The previous report's manifest, or None for an empty directory; OutputError when the
    directory holds anything cotwatch did not write. A directory without a marker is refused
    before anything in it is listed (``--out ~`` or ``--out /`` costs nothing)."""
    try:
        with os.scandir(path) as entries:
            empty = next(entries, None) is None
    except OSError as exc:
        raise OutputError(f"--out {given}: cannot read the directory: {exc.strerror or exc}") from None
    if empty:
        return None
    manifest = read_marker(path)
    if manifest is None:
        manifest = _legacy_manifest(path)
    if manifest is None:
        raise OutputError(f"--out {given}: directory exists, is not empty and was not written by cotwatch "
                          f"(no {MARKER} marker); refusing to replace it — choose another --out or empty it")
    try:
        foreign = _foreign_files(path, manifest | {MARKER})
    except OSError as exc:
        raise OutputError(f"--out {given}: cannot read the directory: {exc.strerror or exc}") from None
    if foreign:
        shown = ", ".join(foreign[:3]) + (" and more" if len(foreign) > 3 else "")
        raise OutputError(f"--out {given}: holds files cotwatch did not write ({shown}); refusing to replace it "
                          "— move them out or choose another --out")
    return manifest


def _foreign_files(root: Path, known: frozenset[str], stop: int = 4) -> list[str]:
    """Up to ``stop`` files below ``root`` that ``known`` does not list, sorted (the walk ends
    there: a report directory someone filled with a big tree is refused just as fast)."""
    found: list[str] = []
    for rel in _walk_files(root):
        if rel not in known:
            found.append(rel)
            if len(found) >= stop:
                break
    return sorted(found)


def _walk_files(root: Path):
    """Relative paths of every non-directory entry below ``root`` (symlinks are entries, never followed)."""
    for dirpath, dirnames, filenames in os.walk(root, onerror=_raise):
        rel = Path(dirpath).relative_to(root)
        for name in filenames:
            yield (rel / name).as_posix()
        for name in list(dirnames):
            if (Path(dirpath) / name).is_symlink():  # os.walk lists a symlink to a dir as a dir
                yield (rel / name).as_posix()
                dirnames.remove(name)


def _files(root: Path) -> set[str]:
    return set(_walk_files(root))


def _raise(exc: OSError) -> None:
    raise exc


def read_marker(root: Path) -> frozenset[str] | None:
    """The manifest in ``root``'s marker, or None when there is no valid cotwatch marker."""
    try:
        text = (root / MARKER).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    first, _, rest = text.partition("\n")
    if first != TOOL_ID:
        return None
    try:
        meta = json.loads(rest)
        files = meta["files"]
    except (ValueError, KeyError, TypeError):
        return None
    if meta.get("state") != "complete" or not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return frozenset(files)


def _legacy_manifest(root: Path) -> frozenset[str] | None:
    """Files of a report written before the marker existed, when ``root`` is one: its
    ``report.json`` says ``cotwatch-report/1`` and lists the files. Dated history copies count
    when each is such a report itself."""
    def one(folder: Path, prefix: str) -> set[str] | None:
        try:
            meta = json.loads((folder / "report.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict) or meta.get("format") != "cotwatch-report/1":
            return None
        files = {"index.html", "report.json"}
        for entry in (meta.get("files") or {}).values():
            if isinstance(entry, dict):
                files.update(v for v in entry.values() if isinstance(v, str))
        return {prefix + f for f in files}

    manifest = one(root, "")
    if manifest is None:
        return None
    history = root / "history"
    if history.is_dir() and not history.is_symlink():
        manifest.add("history/index.html")
        for day in history.iterdir():
            if day.is_dir() and _DAY.fullmatch(day.name):
                copy = one(day, f"history/{day.name}/")
                if copy is None:
                    return None
                manifest |= copy
    return frozenset(manifest)


# -- 2. leftovers of dead processes ---------------------------------------------------------------
def _stem(path: Path) -> str:
    name = path.name
    if len(name) <= _NAME_KEEP:
        return f".{name}"
    return f".{name[:_NAME_KEEP]}~{hashlib.sha1(name.encode()).hexdigest()[:8]}"


def clean_stale(target: Target, log=None) -> list[Path]:
    """Remove staging/retired directories beside ``target`` left by dead cotwatch processes on
    this host. Returns what was removed."""
    removed = []
    stem = _stem(target.path)
    pattern = re.compile(re.escape(stem) + r"(" + re.escape(_TMP) + "|" + re.escape(_OLD) + r")([0-9a-f]{6})-(\d+)-")
    try:
        entries = list(target.path.parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        m = pattern.match(entry.name)
        if not m or m.group(2) != host_tag() or pid_alive(int(m.group(3))):
            continue
        if entry.is_symlink() or not entry.is_dir() or not _has_tool_marker(entry):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
        if log:
            log(f"removed {entry.name}, left by an interrupted report (process {m.group(3)})")
    return removed


def _has_tool_marker(folder: Path) -> bool:
    try:
        with (folder / MARKER).open(encoding="utf-8") as fh:
            return fh.readline().rstrip("\n") == TOOL_ID
    except (OSError, UnicodeDecodeError):
        return False


# -- 3. staging -----------------------------------------------------------------------------------
def stage(target: Target) -> Path:
    """A fresh staging directory beside the destination, marked as cotwatch's (state: staging)."""
    prefix = f"{_stem(target.path)}{_TMP}{host_tag()}-{os.getpid()}-"
    try:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=target.path.parent))
    except OSError as exc:
        raise OutputError(f"--out {target.given}: cannot create a directory in {target.path.parent}: "
                          f"{exc.strerror or exc}") from None
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it 0700; a report is meant to be shared
        _write_marker(tmp, {"state": "staging", "pid": os.getpid(), "files": []})
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tmp


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_marker(root: Path, meta: dict[str, Any]) -> None:
    body = TOOL_ID + "\n" + json.dumps({"format": MARKER_FORMAT, **meta}, indent=1, sort_keys=True) + "\n"
    (root / MARKER).write_text(body, encoding="utf-8")


def seal(tmp: Path) -> frozenset[str]:
    """Record every file of the finished staging directory in its marker (state: complete)."""
    files = sorted(_files(tmp) - {MARKER})
    _write_marker(tmp, {"state": "complete", "files": files})
    return frozenset(files)


# -- 4. history ------------------------------------------------------------------------------------
def carry_history(target: Target, tmp: Path, *, day: str | None, render_index) -> None:
    """Carry ``history/`` of the previous report into ``tmp`` (hard links), add the dated copy
    ``history/<day>/`` of ``tmp``'s report when ``day`` is given, and write the index page with
    ``render_index(history_dir) -> str``."""
    old = target.path / "history"
    if target.manifest is not None and old.is_dir() and not old.is_symlink():
        _link_tree(old, tmp / "history", only={f.removeprefix("history/") for f in target.manifest
                                               if f.startswith("history/")})
    if day is not None:
        dest = tmp / "history" / day
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        for entry in tmp.iterdir():
            if entry.name in ("history", MARKER):
                continue
            if entry.is_dir():
                _link_tree(entry, dest / entry.name)
            else:
                _link(entry, dest / entry.name)
    if (tmp / "history").is_dir():
        (tmp / "history" / "index.html").write_text(render_index(tmp / "history"), encoding="utf-8")


def _link(a: Path, b: Path) -> None:
    try:
        os.link(a, b)
    except OSError:
        shutil.copy2(a, b)


def _link_tree(src: Path, dst: Path, only: set[str] | None = None) -> None:
    """Copy a tree by hard links (report files are never modified in place), copying when
    linking fails; with ``only``, just those relative paths."""
    for dirpath, _dirnames, filenames in os.walk(src):
        rel = Path(dirpath).relative_to(src)
        for name in filenames:
            relpath = (rel / name).as_posix()
            if only is not None and relpath not in only:
                continue
            (dst / rel).mkdir(parents=True, exist_ok=True)
            _link(Path(dirpath) / name, dst / rel / name)
    dst.mkdir(parents=True, exist_ok=True)


def history_days(folder: Path) -> list[str]:
    """Dated copies in a history folder, newest first."""
    return sorted((p.name for p in folder.iterdir() if p.is_dir() and _DAY.fullmatch(p.name)), reverse=True)


# -- 5. the swap ----------------------------------------------------------------------------------
def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with Linux renameat2(RENAME_EXCHANGE); False when unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def publish(tmp: Path, target: Target, log=None) -> None:
    """Put the sealed staging directory ``tmp`` at the destination. The previous report is
    checked again (a file added since the start makes it foreign) and removed by its manifest."""
    out = target.path
    try:
        if not out.exists():
            os.rename(tmp, out)
            return
        previous = _check_ours(target.given, out)
        if _exchange(tmp, out):
            _remove_written(tmp, previous, log)  # tmp now holds the previous report
            return
        old = tmp.with_name(tmp.name.replace(_TMP, _OLD))
        os.rename(out, old)
        try:
            os.rename(tmp, out)
        except BaseException:
            os.rename(old, out)
            raise
        _remove_written(old, previous, log)
    except OutputError:
        raise
    except OSError as exc:
        raise OutputError(f"--out {target.given}: cannot put the report in place: {exc.strerror or exc}") from None


def _remove_written(folder: Path, manifest: frozenset[str] | None, log=None) -> None:
    """Remove the files a manifest lists from a retired report, then its empty directories and
    marker. Anything else (a file that appeared after the check) is kept, with a log line."""
    if not _has_tool_marker(folder):  # a pre-marker report: mark it, so an interrupted clean-up is found later
        with contextlib.suppress(OSError):
            _write_marker(folder, {"state": "retired", "files": sorted(manifest or ())})
    for rel in manifest or ():
        with contextlib.suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
            (folder / rel).unlink()
    subdirs = sorted((Path(d) for d, _, _ in os.walk(folder)), key=lambda p: -len(p.parts))
    for sub in subdirs:
        if sub != folder:
            with contextlib.suppress(OSError):
                sub.rmdir()
    try:
        if [p.name for p in folder.iterdir()] == [MARKER]:
            (folder / MARKER).unlink()  # the marker goes last: until here clean_stale can finish the job
            folder.rmdir()
    except OSError:
        pass
    if folder.exists() and log:
        log(f"warning: kept {folder}: it holds files cotwatch did not write")
