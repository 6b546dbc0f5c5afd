"""Admission control: a server sheds load with 503 and Retry-After instead of queueing without bound.

Each server process admits at most ``hash_processes x max_in_flight_per_process``
engine requests at once (hashing, lookups).  A request that finds no free slot
within ``admission_wait_s`` is refused at once with 503, so under overload the
latency of admitted requests stays bounded and clients retry elsewhere or later
rather than time out.  Starlette's thread pool would otherwise queue every
request, and each would wait behind all the others.

A request is also refused before its body is read when as many requests are
already waiting for a slot as there are slots: under overload, reading and
parsing an upload that will be refused anyway only takes CPU from admitted work.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import AsyncIterator

from crossmatch.errors import CrossmatchError


class Overloaded(CrossmatchError):
    """The server is at capacity; the client should retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Admission:
    def __init__(self, slots: int, wait_s: float, retry_after_s: int) -> None:
        self.slots = max(1, slots)
        self._wait = wait_s
        self._retry_after = retry_after_s
        self._semaphore: asyncio.Semaphore | None = None  # made in the server's event loop on first use
        self.shed = 0  # requests refused so far (a metric)
        self.waiting = 0  # requests waiting for a slot now

    def _overloaded(self) -> Overloaded:
        self.shed += 1
        return Overloaded(f"the server is at capacity ({self.slots} requests in progress); retry in "
                          f"{self._retry_after} s, or use POST /api/v1/submissions for asynchronous scanning",
                          self._retry_after)

    def refuse_if_backlogged(self) -> None:
        """Refuse at once, before the body is read, when the queue for slots is already full."""
        if self.waiting >= self.slots:
            raise self._overloaded()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.slots)
        self.waiting += 1
        try:
            await asyncio.wait_for(self._semaphore.acquire(), timeout=self._wait or 1e-3)
        except (asyncio.TimeoutError, TimeoutError):
            raise self._overloaded() from None
        finally:
            self.waiting -= 1
        try:
            yield
        finally:
            self._semaphore.release()

    @property
    def in_use(self) -> int:
        return self.slots - self._semaphore._value if self._semaphore is not None else 0  # noqa: SLF001
