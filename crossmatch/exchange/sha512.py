"""``sha512``: the SHA-512 file hash TCAP shares.  Lives here until the core adds it to
:mod:`crossmatch.signals.exact` next to md5 and sha256 (then only the entry point moves)."""

from __future__ import annotations

import hashlib

from crossmatch.settings import Settings
from crossmatch.signals.exact import CryptoHash


def create(settings: Settings) -> CryptoHash:
    return CryptoHash("sha512", hashlib.sha512, 128)
