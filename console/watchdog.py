"""Leave cleanly when the terminal goes away (SSH dropped, window closed).

Two ways a terminal disappears: the kernel sends SIGHUP, or stdin reaches end of
file (a closed pipe or pty). Textual's input thread would then spin on a
readable stdin that yields nothing; this watchdog notices instead — stdin reads
as ready with no bytes waiting, twice in a row a second apart — and asks the
app to exit.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import os
import select
import signal
import sys
import termios
import threading
from collections.abc import Callable
from typing import Any


def stdin_gone(fd: int) -> bool:
    """True when ``fd`` is at end of file or hung up (ready, with nothing to read)."""
    try:
        ready, _, errors = select.select([fd], [], [fd], 0)
    except (OSError, ValueError):
        return True
    if errors:
        return True
    if not ready:
        return False
    waiting = array.array("i", [0])
    try:
        fcntl.ioctl(fd, termios.FIONREAD, waiting, True)
    except OSError:
        return True
    return waiting[0] == 0


class Watchdog:
    def __init__(self, on_gone: Callable[[], Any], *, interval: float = 1.0) -> None:
        self.on_gone = on_gone
        self.interval = interval
        self.stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        try:
            fd = sys.__stdin__.fileno() if sys.__stdin__ else -1
        except (OSError, ValueError):
            fd = -1
        if fd < 0 or not os.isatty(fd):
            return
        self._thread = threading.Thread(
            target=self._run, args=(fd,), name="orderdeck-watchdog", daemon=True
        )
        self._thread.start()

    def _run(self, fd: int) -> None:
        strikes = 0
        while not self.stop.wait(self.interval):
            strikes = strikes + 1 if stdin_gone(fd) else 0
            if strikes >= 2:
                self.on_gone()
                return


def on_hangup(loop: Any, callback: Callable[[], Any]) -> None:
    """Run ``callback`` on the event loop when SIGHUP arrives."""
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGHUP, callback)
