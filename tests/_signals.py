"""Child processes that a test interrupts get Ctrl-C's default action back.

A process started in the background by a non-interactive shell (``make test &``, some CI runners)
inherits SIGINT ignored, and Python then never turns SIGINT into KeyboardInterrupt: a test that
sends SIGINT would measure the harness, not cotwatch. ``Popen(..., **SIGINT_DEFAULT)`` restores it.
"""

from __future__ import annotations

import signal


def _restore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


SIGINT_DEFAULT = {"preexec_fn": _restore_sigint}
