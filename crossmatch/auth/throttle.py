"""Sign-in throttle: failed passwords counted per account and per client address.

A sliding window of failure times per key, kept in the store so that every server
process (and every host on one PostgreSQL) counts the same failures: with counters
in memory, N processes gave a guesser N times the limit.  Three keys are counted:

- (account, address): tight, so one guesser at one account stops quickly;
- account: looser, so a botnet spread over many addresses still stops;
- address: so one address cannot walk through many accounts.

Once a key is over its limit, sign-in for it is refused (without checking the
password, so no argon2 work is spent) until its oldest counted failure leaves the
window.  A successful sign-in clears the (account, address) key only: an attacker
who also knows a password learns nothing from the others.  Keys are stored as
SHA-256 hashes: the table never says who tried or from where.
"""

from __future__ import annotations

import hashlib
import time

from sqlalchemy import delete, select
from sqlalchemy.orm import sessionmaker

from crossmatch.auth.models import SignInFailure

_KINDS = ("pair", "account", "address")


class SignInThrottle:
    def __init__(self, sessions: sessionmaker, per_account_address: int, per_account: int, per_address: int,
                 window_s: float) -> None:
        self._sessions = sessions
        self.limits = {"pair": per_account_address, "account": per_account, "address": per_address}
        self.window_s = float(window_s)

    @staticmethod
    def _keys(account: str, address: str) -> dict[str, str]:
        account = account.strip().lower()[:200]
        raw = {"pair": f"{account}\x00{address}", "account": account, "address": address}
        return {kind: hashlib.sha256(f"{kind}\x00{value}".encode()).hexdigest() for kind, value in raw.items()}

    def wait(self, account: str, address: str, now: float | None = None) -> float:
        """0.0 if this sign-in may be tried now, else the seconds until it may."""
        now = time.time() if now is None else now
        longest = 0.0
        with self._sessions() as session:
            for kind, key in self._keys(account, address).items():
                limit = self.limits[kind]
                if limit <= 0:
                    continue
                # The limit-th newest failure in the window: the key is free once it leaves the window.
                nth = session.scalars(select(SignInFailure.at).where(
                    SignInFailure.key_hash == key, SignInFailure.at > now - self.window_s)
                    .order_by(SignInFailure.at.desc()).offset(limit - 1).limit(1)).first()
                if nth is not None:
                    longest = max(longest, nth + self.window_s - now)
        return longest

    def failed(self, account: str, address: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        keys = self._keys(account, address)
        with self._sessions.begin() as session:
            # Expired rows (any key's) go as new ones come, so the table holds one window of failures.
            session.execute(delete(SignInFailure).where(SignInFailure.at <= now - self.window_s))
            session.add_all([SignInFailure(key_hash=key, at=now) for key in keys.values()])

    def succeeded(self, account: str, address: str) -> None:
        with self._sessions.begin() as session:
            session.execute(delete(SignInFailure).where(SignInFailure.key_hash == self._keys(account, address)["pair"]))
