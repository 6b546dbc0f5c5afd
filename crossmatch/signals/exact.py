"""Cryptographic file hashes (md5, sha256): exact copies only, as shared in GIFCT/TCAP lists."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Callable, Sequence

from crossmatch.index.brute import BruteForceIndex, ExactIndex
from crossmatch.settings import Settings
from crossmatch.signals.base import Candidate, Content, InvalidSignal, Signal, SignalIndex, match_each


class EqualityMatching:
    """Comparison, indices and matching for types whose signals match only when equal
    (cryptographic hashes, canonical URLs)."""

    metric = "distance"
    default_threshold = 0.0
    max_threshold = 0.0

    def compare(self, a: Signal, b: Signal) -> float:
        return 0.0 if a.value == b.value else 1.0

    def brute_force_index(self) -> SignalIndex:
        return BruteForceIndex(self.compare, "distance")

    def fast_index(self) -> SignalIndex:
        return ExactIndex()

    def match(self, queries: Sequence[Signal], index: SignalIndex, threshold: float, lookup) -> list[Candidate]:
        return match_each(self, queries, index, 0.0)


@dataclass(frozen=True)
class CryptoHash(EqualityMatching):
    """A hex digest of the content's bytes."""

    name: str
    digest: Callable[[bytes], "hashlib._Hash"]
    hex_length: int
    content_kinds: frozenset[str] = frozenset({"image", "video", "file"})

    def validate(self, value: str) -> str:
        value = value.strip().lower()
        if len(value) != self.hex_length or not re.fullmatch(r"[0-9a-f]+", value):
            raise InvalidSignal(f"{self.name} must be {self.hex_length} hex characters, got {value[:80]!r}")
        return value

    def hash(self, content: Content) -> list[Signal]:
        if content.data is None:
            return []
        return [Signal(self.name, self.digest(content.data).hexdigest())]

    def examples(self) -> list[Signal]:
        return [Signal(self.name, self.digest(s).hexdigest()) for s in (b"", b"crossmatch", b"\x00" * 100)]


def create_md5(settings: Settings) -> CryptoHash:
    return CryptoHash("md5", hashlib.md5, 32)


def create_sha256(settings: Settings) -> CryptoHash:
    return CryptoHash("sha256", hashlib.sha256, 64)


def create_sha512(settings: Settings) -> CryptoHash:
    # Tech Against Terrorism's TCAP shares SHA-512 alongside MD5 and SHA-256.
    return CryptoHash("sha512", hashlib.sha512, 128)
