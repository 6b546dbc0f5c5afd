"""A background thread that runs one step function until stopped (delivery, submissions).

``step()`` returns True when it did work (run again at once) and False when
idle (sleep until woken or ``poll_s`` passes).
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

log = logging.getLogger(__name__)


class BackgroundLoop:
    def __init__(self, name: str, step: Callable[[], bool], wakeup: threading.Event, poll_s: float) -> None:
        self.name = name
        self._step = step
        self._wakeup = wakeup
        self._poll = poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"crossmatch-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        self._wakeup.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wakeup.clear()
            try:
                busy = self._step()
            except Exception:  # a DB hiccup must not kill the worker; rows stay pending and are retried
                log.exception("%s pass failed; retrying", self.name)
                busy = False
            if not busy:
                self._wakeup.wait(self._poll)
