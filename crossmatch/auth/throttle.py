"""Sign-in throttle: failed passwords counted per account and per client address.

A sliding window of failure times per key, in memory, per process (several server
processes each keep their own, as the token rate limiter does; documented in
SECURITY.md).  Three keys are counted:

- (account, address): tight, so one guesser at one account stops quickly;
- account: looser, so a botnet spread over many addresses still stops;
- address: so one address cannot walk through many accounts.

Once a key is over its limit, sign-in for it is refused (without checking the
password, so no argon2 work is spent) until its oldest failure leaves the window.
A successful sign-in clears the (account, address) key only: an attacker who
also knows a password learns nothing from the others.
"""

from __future__ import annotations

import threading
import time
from collections import deque


class SignInThrottle:
    def __init__(self, per_account_address: int, per_account: int, per_address: int, window_s: float) -> None:
        self.limits = {"pair": per_account_address, "account": per_account, "address": per_address}
        self.window_s = float(window_s)
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(account: str, address: str) -> list[tuple[str, str]]:
        account = account.strip().lower()[:200]
        return [("pair", f"{account}\x00{address}"), ("account", account), ("address", address)]

    def wait(self, account: str, address: str, now: float | None = None) -> float:
        """0.0 if this sign-in may be tried now, else the seconds until it may."""
        now = time.monotonic() if now is None else now
        longest = 0.0
        with self._lock:
            for key in self._keys(account, address):
                limit = self.limits[key[0]]
                times = self._trim(key, now)
                if limit > 0 and times is not None and len(times) >= limit:
                    longest = max(longest, times[len(times) - limit] + self.window_s - now)
        return longest

    def failed(self, account: str, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._failures) > 100_000:  # bound memory against floods of made-up names
                self._failures.clear()
            for key in self._keys(account, address):
                times = self._failures.setdefault(key, deque())
                times.append(now)
                while len(times) > max(self.limits.values()):
                    times.popleft()

    def succeeded(self, account: str, address: str) -> None:
        with self._lock:
            self._failures.pop(self._keys(account, address)[0], None)

    def _trim(self, key: tuple[str, str], now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times
