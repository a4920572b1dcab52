"""Atomic file writes: the one way cotwatch writes a file a reader might see half-written.

The content goes to a fresh temporary file beside the target (same filesystem, unique name, so
concurrent writers never share it), which is fsynced and renamed over the target. A failure or
Ctrl-C removes the temporary file and leaves the previous target untouched. A target that is a
symlink is written where it points (the link stays); a target that exists but is not a regular
file (a device such as ``/dev/stdout``, a FIFO, a directory) or cannot be written (``/proc/...``,
a read-only or missing place) is an :class:`~cotwatch.analytics.errors.OutputError` (exit code 3)
naming it, and nothing is written.

>>> with atomic_path("labels.jsonl") as tmp:                    # doctest: +SKIP
...     tmp.write_text("...")
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from cotwatch.analytics.errors import OutputError


def _cannot(path: str | os.PathLike[str], exc: OSError) -> OutputError:
    return OutputError(f"{os.fspath(path)}: cannot write ({exc.strerror or exc})")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside ``path``; renamed onto ``path`` when the block ends without error."""
    target = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    if target.exists() and not target.is_file():
        raise OutputError(f"{os.fspath(path)}: cannot write (not a regular file)")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _cannot(path, exc) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        try:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            raise _cannot(path, exc) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """``open()`` a temporary file beside ``path`` for writing; it replaces ``path`` on success."""
    with atomic_path(path) as tmp:
        with open(tmp, mode, encoding=None if "b" in mode else encoding) as fh:
            yield fh


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_open(path, "w") as fh:
        fh.write(text)


# -- leftovers of processes that died mid-write ----------------------------------------------------
def host_tag() -> str:
    """A short tag of this host, written into temporary names so only this host's dead
    processes' leftovers are ever cleaned (a folder may be shared over NFS or by containers)."""
    import hashlib
    import socket

    return hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def fsync_directory(folder: str | os.PathLike[str]) -> None:
    """Make a new or renamed entry of ``folder`` durable (best effort where unsupported)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def clean_stale_files(folder: Path, prefix: str, suffix: str) -> list[Path]:
    """Remove files ``<prefix><host tag>-<pid>-<anything><suffix>`` (and their ``.wal``) in
    ``folder`` whose process, on this host, is gone. Returns what was removed."""
    removed = []
    head = f"{prefix}{host_tag()}-"
    with contextlib.suppress(OSError):
        for entry in folder.iterdir():
            name = entry.name.removesuffix(".wal")
            if not (name.startswith(head) and name.endswith(suffix)):
                continue
            pid = name[len(head):].split("-", 1)[0]
            if pid.isdigit() and not pid_alive(int(pid)) and not entry.is_symlink():
                with contextlib.suppress(OSError):
                    entry.unlink()
                    removed.append(entry)
    return removed
