"""Ingest transcripts into the store: generic JSONL, JSON record files, Inspect AI logs, plain text.

Every file is ingested in one transaction (:class:`~cotwatch.analytics.ingest.staging.FileIngest`):
with any bad record the whole file is rejected and the store is left unchanged (one problem line
per bad record), unless ``skip_bad`` is set, in which case the good records go in and the bad
ones are kept in the ``rejects`` table. A crash, ``kill -9`` or Ctrl-C mid-file rolls the
transaction back, so no partial file is ever visible. Term counts are written in the file's own
transaction (counted in a thread while the next chunk is staged), so an ingest ends with counts
ready; anything left pending by an interrupted or deferred count is counted at the end of the next
ingest (:func:`cotwatch.analytics.terms.materialize.resume_pending`).

Named files are checked before anything is stored (missing, not a regular file, a format that
does not fit); a folder is walked in name order and files it cannot take are skipped, each with
its reason (a ``FileResult`` with ``skipped`` set) — never after part of the folder was stored.

>>> from cotwatch.analytics.store import Store
>>> with Store.open("runs.duckdb", read_only=False) as store:
...     results = ingest_paths(store, ["rollouts.jsonl.gz"], run="rl-1")
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from cotwatch.analytics.errors import InputError, OutputError, RejectedRecords, UsageError
from cotwatch.analytics.ingest.jsonl import (
    MB,
    Limits,
    is_record_list,
    read_json_records,
    read_line_chunks,
)
from cotwatch.analytics.ingest.records import FieldMap
from cotwatch.analytics.ingest.staging import FileIngest, FileResult
from cotwatch.analytics.ingest.text import ID_FROM, read_text
from cotwatch.analytics.store.database import Store

FORMATS = ("auto", "jsonl", "json", "inspect", "text", "scout")
INGEST_MEMORY = "384MB"  # DuckDB memory limit while ingesting ($COTWATCH_INGEST_MEMORY overrides)
#: A file at least this large commits straight into the database file: its commit checkpoints
#: (DuckDB's ``checkpoint_threshold`` is lowered for it) instead of writing every row to the WAL,
#: to be copied into the file again at the next checkpoint. DuckDB's own trigger estimates a few
#: bytes per row, not the text, so by default even a 200 MB file went through the WAL. Smaller
#: files keep the WAL: a checkpoint per 1 MB file made a folder of them 12% slower.
#: docs/benchmarks.md has both measurements.
DIRECT_COMMIT_BYTES = 8 << 20

_JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
_TEXT_SUFFIXES = (".txt", ".md")
#: Files a folder walk never takes for transcripts, whatever their extension.
_NOT_TRANSCRIPTS = re.compile(r"^(licen[cs]e|copying|notice|readme|changelog|authors|contributing)([-_.].*)?$", re.I)

__all__ = ["FORMATS", "FileResult", "Limits", "StepFrom", "detect_format", "ingest_file", "ingest_paths"]


# --------------------------------------------------------------------------------------------
# Where a file's step comes from (--step-from)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StepFrom:
    """``--step-from``: ``metadata:KEY`` (Inspect eval metadata), ``task_arg:KEY`` (Inspect task
    arguments) or ``path:REGEX`` (the first group of REGEX searched in the file's path, any
    format).

    >>> StepFrom.parse(r"path:step_(\\d+)").from_path(Path("logs/step_1200/a.eval"))
    1200
    """

    source: str
    key: str

    SOURCES = ("metadata", "task_arg", "path")

    @classmethod
    def parse(cls, text: str | None) -> "StepFrom | None":
        if text is None:
            return None
        source, sep, key = text.partition(":")
        if not sep or source not in cls.SOURCES or not key:
            raise UsageError(f"--step-from {text!r}: expected metadata:KEY, task_arg:KEY or 'path:REGEX'")
        if source == "path":
            try:
                pattern = re.compile(key)
            except re.error as exc:
                raise UsageError(f"--step-from {text!r}: not a regular expression: {exc}") from None
            if pattern.groups < 1:
                raise UsageError(f"--step-from {text!r}: the expression needs a group, e.g. 'path:step_(\\d+)'")
        return cls(source, key)

    def from_path(self, path: Path) -> int:
        found = re.search(self.key, path.as_posix())
        if not found or found.group(1) is None:
            raise InputError(f"{path}: --step-from path:{self.key} does not match this path")
        return _int_step(found.group(1), f"{path}: step {found.group(1)!r} taken from the path")


def _int_step(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise InputError(f"{what} is not an integer")
    try:
        step = int(str(value).strip())
    except ValueError:
        raise InputError(f"{what} is not an integer") from None
    if not -(1 << 63) <= step < (1 << 63):
        raise InputError(f"{what} is out of range")
    return step


# --------------------------------------------------------------------------------------------
# Format detection and file walking
# --------------------------------------------------------------------------------------------
def _suffix_format(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(_JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(".eval"):
        return "inspect"
    if name.endswith(".json"):
        return "json?"
    if name.endswith(_TEXT_SUFFIXES):
        return "text"
    if name.endswith(".parquet"):
        return "scout"  # Inspect Scout transcripts or scan results (analytics/ingest/scout.py)
    return None


def _head(path: Path, size: int = 65536) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(size)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc


_INSPECT_LOG_HEAD = re.compile(rb'^\s*\{\s*"version"\s*:\s*\d+\s*,')
#: Files Inspect's eval_set writes beside the logs.
_EVAL_SET_FILES = ("logs.json", "eval-set.json")


def _looks_like_inspect_log(head: bytes) -> bool:
    """An Inspect JSON log starts with its "version" key (eval_set's logs.json, which embeds log
    headers under file names, does not)."""
    return bool(_INSPECT_LOG_HEAD.match(head.removeprefix(b"\xef\xbb\xbf"))) and b'"eval"' in head


def _sniff(path: Path) -> str:
    """What the first bytes say: 'zip', 'gzip', 'json' (a JSON value starts), or 'text'."""
    head = _head(path, 4096)
    if head[:2] == b"PK":
        return "zip"
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    body = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if body[:1] in (b"{", b"["):
        import orjson

        first = body.split(b"\n", 1)[0]
        try:
            orjson.loads(first)
            return "json"
        except orjson.JSONDecodeError:
            pass
        if body[:1] == b"{" and (b'":' in body or b'" :' in body):
            return "json"
    return "text"


def detect_format(path: Path, records_field: str | None = None) -> str:
    """The format of ``path`` from its extension, else from its first bytes."""
    by_suffix = _suffix_format(path)
    if by_suffix == "json?":
        if records_field is None and _looks_like_inspect_log(_head(path)):
            return "inspect"
        return "json"  # a list of records, or an object whose list --records-field names
    if by_suffix:
        return by_suffix
    sniffed = _sniff(path)
    if sniffed == "zip":
        return "inspect"
    if sniffed in ("gzip", "json"):
        return "jsonl"
    return "text"


def _check_format(path: Path, fmt: str, records_field: str | None) -> None:
    """A format named with --format must fit the file: one clear error instead of storing a
    JSON file as one text transcript, or reading an archive as JSONL."""
    sniffed = _sniff(path)
    name = path.name.lower()
    if fmt == "text" and (sniffed in ("zip", "gzip", "json") or name.endswith((".json", ".eval") + _JSONL_SUFFIXES)):
        what = {"zip": "a zip archive (an Inspect .eval log?)", "gzip": "gzip-compressed"}.get(sniffed, "JSON")
        raise InputError(f"{path}: --format text, but the file is {what}; use --format auto")
    if fmt == "jsonl" and (sniffed == "zip" or name.endswith(".eval")):
        raise InputError(f"{path}: --format jsonl, but the file is a zip archive (an Inspect .eval log?); use --format inspect")
    if fmt == "json" and (sniffed != "json" or (records_field is None and not is_record_list(path))):
        hint = "" if sniffed != "json" else " (an object: name its list with --records-field)"
        raise InputError(f"{path}: --format json reads a JSON list of records; this file is not one{hint}")
    if fmt == "inspect" and (sniffed == "gzip" or name.endswith(_JSONL_SUFFIXES + _TEXT_SUFFIXES)):
        raise InputError(f"{path}: not a readable Inspect log (--format inspect reads .eval and .json logs)")


def _file_kind(st: os.stat_result) -> str | None:
    """None for a regular file, else what it is."""
    if stat.S_ISREG(st.st_mode):
        return None
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(st.st_mode):
            return name
    return "not a regular file"


@dataclass
class PlannedFile:
    path: Path
    display: str
    format: str | None            # None: skipped
    reason: str | None = None     # why skipped
    root: Path | None = None      # the folder it was found in (for --id-from path)


def plan_files(paths: Iterable[str | os.PathLike[str]], fmt: str = "auto", *,
               records_field: str | None = None) -> list[PlannedFile]:
    """Every file to ingest, checked before anything is stored: named files must exist, be
    regular files and fit ``fmt`` (else InputError); folders are walked in name order and a file
    that does not fit (wrong kind, unknown extension, not a log, a licence...) is listed with its
    reason instead of stopping the ingest."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    planned: list[PlannedFile] = []
    for raw in paths:
        path = Path(raw)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise InputError(f"{path}: no such file or directory") from None
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
        if stat.S_ISDIR(st.st_mode):
            planned.extend(_walk(path, fmt, records_field))
            continue
        kind = _file_kind(st)
        if kind is not None:
            raise InputError(f"{path}: not a regular file ({kind})")
        if not os.access(path, os.R_OK):
            raise InputError(f"{path}: cannot read: permission denied")
        if fmt == "auto":
            chosen = detect_format(path, records_field)
        else:
            _check_format(path, fmt, records_field)
            chosen = fmt
        planned.append(PlannedFile(path, str(path), chosen))
    return planned


def _walk(root: Path, fmt: str, records_field: str | None) -> Iterator[PlannedFile]:
    def entries(folder: Path) -> list[os.DirEntry]:
        try:
            with os.scandir(folder) as it:
                return sorted(it, key=lambda e: e.name)
        except OSError as exc:
            raise _Unreadable(exc.strerror or str(exc)) from None

    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            listing = entries(folder)
        except _Unreadable as exc:
            yield PlannedFile(folder, str(folder), None, f"folder cannot be read: {exc}", root)
            continue
        subfolders = []
        for entry in listing:
            path = Path(entry.path)
            if entry.name.startswith(".") or entry.name == "__pycache__":
                continue  # hidden files and folders: never transcripts
            try:
                if entry.is_dir(follow_symlinks=False):
                    subfolders.append(path)
                    continue
                st = entry.stat(follow_symlinks=True)
            except OSError as exc:
                yield PlannedFile(path, str(path), None, f"cannot read: {exc.strerror or exc}", root)
                continue
            kind = _file_kind(st)
            if kind is not None:
                yield PlannedFile(path, str(path), None, f"not a regular file ({kind})", root)
                continue
            chosen, reason = _classify(path, fmt, records_field)
            yield PlannedFile(path, str(path), chosen, reason, root)
        stack.extend(reversed(subfolders))


class _Unreadable(Exception):
    pass


def _classify(path: Path, fmt: str, records_field: str | None) -> tuple[str | None, str | None]:
    """(format, None) for a file of a folder walk that ``fmt`` takes, else (None, reason)."""
    from cotwatch.analytics.ingest import scout

    if scout.bookkeeping_reason(path):
        return None, scout.bookkeeping_reason(path)
    by_suffix = _suffix_format(path)
    if by_suffix == "scout" and scout.skip_reason(path):
        return None, scout.skip_reason(path)
    if by_suffix is None:
        suffix = "".join(path.suffixes[-2:]) or "no extension"
        return None, f"not a transcript file ({suffix})"
    if by_suffix == "text" and _NOT_TRANSCRIPTS.match(path.name):
        return None, "a licence or readme, not a transcript"
    if by_suffix == "json?" and path.name in _EVAL_SET_FILES:
        return None, "an Inspect eval_set index, not a log"
    try:
        if by_suffix == "json?":
            if records_field is not None or is_record_list(path):
                by_suffix = "json"
            elif _looks_like_inspect_log(_head(path)):
                by_suffix = "inspect"
            else:
                return None, ("a JSON document that is neither an Inspect log nor a list of records "
                              "(--records-field NAME reads the list inside it)")
        elif by_suffix == "inspect" and _head(path, 4)[:2] != b"PK":
            return None, "not an Inspect .eval archive (not a zip file)"
    except InputError as exc:
        return None, str(exc).split(": ", 1)[-1]
    if fmt != "auto" and by_suffix != fmt:
        names = {"inspect": "an Inspect log", "jsonl": "a JSONL file", "json": "a JSON list of records",
                 "text": "a text file", "scout": "Scout Parquet"}
        return None, f"not {names[fmt]} (--format {fmt})"
    return by_suffix, None


# --------------------------------------------------------------------------------------------
# The ingest itself
# --------------------------------------------------------------------------------------------
def ingest_file(
    store: Store,
    path: str | os.PathLike[str],
    *,
    format: str = "auto",
    run: str | None = None,
    step: int | None = None,
    environment: str | None = None,
    skip_bad: bool = False,
    progress: Callable[[int], None] | None = None,
    counter=None,
    fields: Sequence[str] | FieldMap | None = None,
    records_field: str | None = None,
    id_from: str = "name",
    step_from: StepFrom | str | None = None,
    limits: Limits | None = None,
    display: str | None = None,
    root: Path | None = None,
) -> FileResult:
    """Ingest one file atomically. Returns counts; bad records are listed in ``problems``.

    Without ``skip_bad`` a file with any bad record is rolled back whole (``committed`` False).
    ``counter``: a :class:`~cotwatch.analytics.terms.materialize.StoreCounter` to count the new
    transcripts in the file's transaction (None: they stay pending).
    """
    path = Path(path)
    limits = limits or Limits()
    field_map = fields if isinstance(fields, FieldMap) else FieldMap.parse(list(fields or ()))
    step_from = StepFrom.parse(step_from) if isinstance(step_from, str) else step_from
    if format == "auto" or format not in FORMATS:
        [planned] = plan_files([path], format, records_field=records_field)
        fmt = planned.format
    else:
        fmt = format
    if step is not None and step_from is not None:
        raise UsageError("give --step or --step-from, not both")
    if step_from is not None and step_from.source == "path":
        step = step_from.from_path(path)
    if field_map and fmt not in ("jsonl", "json", "scout"):
        raise UsageError(f"{path}: --field applies to JSONL and JSON record files, not to {fmt} input")
    if fmt == "text" and (run is None or step is None):
        raise InputError(f"{path}: plain-text transcripts need --run and --step (or --step-from path:REGEX)")
    defaults = {"run": run, "step": step, "environment": environment}
    if fmt == "scout":  # Scout transcript databases and scan results: pyarrow + DuckDB, never inspect_scout
        from cotwatch.analytics.ingest.scout import ingest_scout

        return ingest_scout(store, path, defaults=defaults, skip_bad=skip_bad, field_map=field_map, counter=counter,
                            limits=limits, step_from=step_from, progress=progress, display=display)
    ingest = FileIngest(store, path, fmt, defaults=defaults, skip_bad=skip_bad, field_map=field_map,
                        counter=counter, limits=limits, display=display)
    try:
        if fmt == "jsonl":
            ingest.add_chunks(read_line_chunks(path, limits, progress, fields=ingest.scan_fields))
        elif fmt == "json":
            ingest.add_chunks(read_json_records(path, limits, records_field, progress, fields=ingest.scan_fields))
        elif fmt == "inspect":
            from cotwatch.analytics.ingest.inspect import read_inspect_log  # imports inspect_ai lazily

            ingest.add_records(read_inspect_log(path, progress, defaults, limits=limits,
                                                step_from=step_from if step_from and step_from.source != "path" else None))
        else:
            ingest.add_records(read_text(path, progress, defaults, limits=limits, id_from=id_from, root=root))
    except duckdb.OutOfMemoryException as exc:
        ingest.abort()
        raise InputError(f"{path}: a record needs more memory than the ingest may use "
                         f"({os.environ.get('COTWATCH_INGEST_MEMORY', INGEST_MEMORY)}; raise COTWATCH_INGEST_MEMORY): "
                         f"{str(exc).splitlines()[0][:160]}") from None
    except BaseException:
        ingest.abort()
        raise
    return ingest.finish()


def ingest_paths(
    store: Store,
    paths: Iterable[str | os.PathLike[str]],
    *,
    format: str = "auto",
    run: str | None = None,
    step: int | None = None,
    environment: str | None = None,
    skip_bad: bool = False,
    on_file: Callable[[FileResult], None] | None = None,
    progress_factory: Callable[[Path], Callable[[int], None]] | None = None,
    count_terms: bool = True,
    workers: int | None = None,
    fields: Sequence[str] | None = None,
    records_field: str | None = None,
    id_from: str = "name",
    step_from: str | None = None,
    limits: Limits | None = None,
) -> list[FileResult]:
    """Ingest files and folders; each file atomically, with its term counts (``count_terms``),
    then count anything an earlier ingest left pending. Files a folder walk cannot take are
    returned with ``skipped`` set. Raises :class:`RejectedRecords` at the end if any file was
    rejected (the other files are stored). ``workers``: counting threads (default 1; DuckDB
    parses on every core meanwhile)."""
    if id_from not in ID_FROM:
        raise UsageError(f"--id-from must be one of {', '.join(ID_FROM)}, got {id_from!r}")
    field_map = FieldMap.parse(list(fields or ()))
    parsed_step_from = StepFrom.parse(step_from)
    if step is not None and parsed_step_from is not None:
        raise UsageError("give --step or --step-from, not both")
    limits = limits or Limits()
    planned = plan_files(paths, format, records_field=records_field)
    results: list[FileResult] = []
    counter = None
    # DuckDB's buffer pool would otherwise grow with the file (up to 80% of RAM by default)
    store.con.execute("set memory_limit = $limit", {"limit": os.environ.get("COTWATCH_INGEST_MEMORY", INGEST_MEMORY)})
    try:
        if count_terms:
            from cotwatch.analytics.terms.materialize import StoreCounter

            expected = sum(_size(p.path) for p in planned if p.format)
            counter = StoreCounter(store, expected_bytes=expected, workers=workers or 1)
        for item in planned:
            if item.format == "text" and item.root is not None and (
                    run is None or (step is None and parsed_step_from is None)):
                item.format, item.reason = None, "plain text needs --run and --step (or --step-from)"
            if item.format is None:
                res = FileResult(item.display, "-", skipped=item.reason)
            else:
                _commit_directly(store, _size(item.path) >= DIRECT_COMMIT_BYTES)
                try:
                    res = _ingest_one(store, item, counter=counter, run=run, step=step, environment=environment,
                                      skip_bad=skip_bad, fields=field_map, records_field=records_field,
                                      id_from=id_from, step_from=parsed_step_from, limits=limits,
                                      progress_factory=progress_factory)
                except BaseException as exc:  # interrupted just as the file committed: say it is stored
                    stored = getattr(exc, "committed_result", None)
                    if stored is not None and on_file:
                        on_file(stored)
                    raise
            results.append(res)
            if on_file:
                on_file(res)
        if counter is not None:
            counter.close()
            counter = None
    except Exception as exc:
        if was_interrupted(exc):  # DuckDB's word for Ctrl-C during a query
            raise KeyboardInterrupt from exc
        if isinstance(exc, (duckdb.IOException, duckdb.FatalException)):  # a full disk, a failing device
            raise OutputError(f"{store.path}: cannot write the store ({str(exc).splitlines()[0][:200]}); "
                              "files reported above were stored whole, nothing of the rest") from exc
        raise
    finally:
        if counter is not None:
            counter.close()
        with contextlib.suppress(duckdb.Error):  # a failed database must not hide why it failed
            store.con.execute("reset memory_limit")
            store.con.execute("reset checkpoint_threshold")
    if count_terms:
        from cotwatch.analytics.terms import materialize as termcounts

        if any(r.added for r in results):
            termcounts.compact(store)
        termcounts.resume_pending(store)
    rejected_files = [r for r in results if not r.committed and r.skipped is None]
    if rejected_files:
        problems = [p for r in rejected_files for p in r.problems]
        hint = "" if skip_bad else " (use --skip-bad to store the good records)"
        raise RejectedRecords(
            f"{len(rejected_files)} file(s) rejected with {len(problems)} problem(s); "
            f"nothing from them was stored{hint}",
            problems,
        )
    return results


@contextlib.contextmanager
def interrupts_as_keyboard():
    """Ctrl-C during a DuckDB query surfaces as ``RuntimeError('Query interrupted')``: make it the
    KeyboardInterrupt it is (the CLI then exits 130, and transactions roll back on the way out)."""
    try:
        yield
    except Exception as exc:
        if was_interrupted(exc):
            raise KeyboardInterrupt from exc
        raise


def was_interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` is, or arose while handling, DuckDB's report of a Ctrl-C (a statement run
    in an aborted transaction fails too, hiding the interrupt behind it)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, KeyboardInterrupt) or (isinstance(exc, RuntimeError) and "interrupted" in str(exc).lower()):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _ingest_one(store: Store, item: PlannedFile, *, progress_factory, **options) -> FileResult:
    """One planned file; a file that cannot be read at all (not a log, unreadable, no step...)
    becomes a rejected result with its one-line reason, so the rest of a folder still goes in."""
    progress = progress_factory(item.path) if progress_factory else None
    try:
        return ingest_file(store, item.path, format=item.format, progress=progress, display=item.display,
                           root=item.root, **options)
    except RejectedRecords:
        raise
    except InputError as exc:
        message = str(exc)
        prefix = f"{item.path}: "
        reason = message[len(prefix):] if message.startswith(prefix) else message
        return FileResult(item.display, item.format or "-", bad=[(None, None, reason)], rejected=1,
                          problems=[f"{item.display}: {reason}"])


def _commit_directly(store: Store, direct: bool) -> None:
    """The next file's commit checkpoints into the database file (``direct``) or goes through
    the WAL (DuckDB's default). Reset with ``checkpoint_threshold`` at the end of the ingest."""
    store.con.execute("set checkpoint_threshold = '1MB'" if direct else "reset checkpoint_threshold")


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def limits_from_options(max_record_mb: float | None = None, max_depth: int | None = None,
                        max_entry_mb: float | None = None, max_ratio: float | None = None,
                        max_values: int | None = None) -> Limits:
    """:class:`Limits` from the CLI's options (None keeps the default)."""
    default = Limits()
    for name, value in (("--max-record-mb", max_record_mb), ("--max-entry-mb", max_entry_mb)):
        if value is not None and not (0 < value < 1 << 40):  # NaN and infinity fail too
            raise UsageError(f"{name} must be a positive number of megabytes, got {value}")
    return Limits(
        max_record_bytes=int(max_record_mb * MB) if max_record_mb is not None else default.max_record_bytes,
        max_depth=max_depth if max_depth is not None else default.max_depth,
        max_entry_bytes=int(max_entry_mb * MB) if max_entry_mb is not None else default.max_entry_bytes,
        max_ratio=max_ratio if max_ratio is not None else default.max_ratio,
        max_values=max_values if max_values is not None else default.max_values,
    )
