"""Typed errors with user-facing one-line messages and exit codes.

The CLI boundary (``cotwatch.cli.main``) maps every ``CotwatchError`` to ``cotwatch: error: <msg>``
on stderr and exits with ``exit_code``. Exit codes are part of the API for scripts and cron:

====  =========================================================
code  meaning
====  =========================================================
0     success
1     unexpected internal error (a bug: please report it)
2     usage error (bad option or argument)
3     bad input: a file, record, parameter or query was rejected
4     the store does not exist (or is not a cotwatch store)
5     the store is locked by another writer and did not free up in time
6     bad report / watchlist / classifier spec
7     nothing to report (the store holds no matching data)
8     a query was interrupted by its time limit
130   interrupted (Ctrl-C): nothing half-written was kept
====  =========================================================
"""

from __future__ import annotations

#: 128 + SIGINT, what shells report for a process stopped by Ctrl-C
INTERRUPTED = 130


class CotwatchError(Exception):
    """Base class of every expected failure."""

    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # one line, always
        return " ".join(str(self.message).split("\n"))


class UsageError(CotwatchError):
    exit_code = 2


class InputError(CotwatchError):
    """A file, record, parameter or query the user gave us is not acceptable."""

    exit_code = 3


class OutputError(InputError, OSError):
    """A file we were asked to write cannot be written (no such directory, not a regular file,
    read-only filesystem, ``/proc``...). Still an ``OSError`` for callers that catch those."""

    def __init__(self, message: str):
        InputError.__init__(self, message)


class RejectedRecords(InputError):
    """One or more records were rejected; ``problems`` lists one line per record."""

    def __init__(self, message: str, problems: list[str]):
        super().__init__(message)
        self.problems = problems


class StoreMissing(CotwatchError):
    exit_code = 4


class StoreNeedsUpgrade(StoreMissing):
    pass


class StoreLocked(CotwatchError):
    exit_code = 5


class SpecError(CotwatchError):
    exit_code = 6


class NothingToReport(CotwatchError):
    exit_code = 7


class QueryTimeout(CotwatchError):
    exit_code = 8
