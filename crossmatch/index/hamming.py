"""Hamming-distance helpers for 256-bit hashes (PDQ).

Outside the index a hash is (n, 32) uint8 rows in hex byte order, so a row is
exactly ``bytes.fromhex(value)``.  Inside, rows become (n, 4) native uint64
words, most significant bit first, which the compiled kernels read.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from crossmatch.index import hamming_kernels

HASH_BYTES = 32
HASH_BITS = 256
Triples = tuple[np.ndarray, np.ndarray, np.ndarray]  # query index, row, distance


def hex_to_bytes(values: list[str]) -> np.ndarray:
    """64-hex-digit strings -> (n, 32) uint8 rows; raises ValueError on bad input."""
    out = np.empty((len(values), HASH_BYTES), dtype=np.uint8)
    for i, value in enumerate(values):
        raw = bytes.fromhex(value)
        if len(raw) != HASH_BYTES:
            raise ValueError(f"a PDQ hash is 64 hex digits, got {len(value)} characters")
        out[i] = np.frombuffer(raw, dtype=np.uint8)
    return out


def as_hash_rows(hashes: np.ndarray) -> np.ndarray:
    """Validate and return C-contiguous (n, 32) uint8 rows."""
    hashes = np.ascontiguousarray(hashes, dtype=np.uint8)
    if hashes.ndim != 2 or hashes.shape[1] != HASH_BYTES:
        raise ValueError(f"hashes must have shape (n, {HASH_BYTES}), got {hashes.shape}")
    return hashes


def to_words(rows: np.ndarray) -> np.ndarray:
    """(n, 32) uint8 -> (n, 4) native uint64, most significant bit = first hash bit."""
    return np.ascontiguousarray(rows).view(">u8").astype(np.uint64)


def no_triples() -> Triples:
    return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int32)


def run_range_kernel(kernel: Callable, query_words: np.ndarray, threshold: int, *tables) -> Triples:
    """Run a range-search kernel over all queries, growing its output whenever it fills up."""
    query_words = np.ascontiguousarray(query_words, dtype=np.uint64)
    if len(query_words) == 0 or threshold < 0:
        return no_triples()
    parts: list[Triples] = []
    cap, done = max(1024, 4 * len(query_words)), 0
    while done < len(query_words):
        out = np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap, np.int32)
        done, written, pending = kernel(query_words, threshold, *out, done, *tables)
        parts.append((out[0][:written], out[1][:written], out[2][:written]))
        cap = max(cap, 2 * pending)  # room for the query that did not fit
    return tuple(np.concatenate(column) for column in zip(*parts))  # type: ignore[return-value]


def scan(query_words: np.ndarray, words: np.ndarray, threshold: int) -> Triples:
    """Exhaustive range search: every (query, row, distance) with distance <= threshold."""
    if len(words) == 0:
        return no_triples()
    return run_range_kernel(hamming_kernels.scan_batch, query_words, threshold, np.ascontiguousarray(words))
