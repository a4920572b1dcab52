"""The ``cotwatch`` console script: Ctrl-C is exit 130 with one line from the first moment.

The CLI module (click, the command table) takes a few dozen milliseconds to import; a Ctrl-C in
that window would print a KeyboardInterrupt traceback. This module imports nothing heavy: it
turns SIGINT into a quiet exit 130 until the CLI is loaded, then hands over to
:func:`cotwatch.cli.run`. A SIGINT the process inherited as ignored stays ignored.
"""

from __future__ import annotations

import os
import signal

from cotwatch.analytics.errors import INTERRUPTED


def _interrupted_while_loading(signum, frame) -> None:  # signal handler signature
    try:
        os.write(2, b"cotwatch: interrupted\n")
    finally:
        os._exit(INTERRUPTED)


def run() -> None:
    guarded = signal.getsignal(signal.SIGINT) is signal.default_int_handler
    if guarded:
        signal.signal(signal.SIGINT, _interrupted_while_loading)
    from cotwatch.cli import run as cli_run

    if guarded:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    cli_run()
