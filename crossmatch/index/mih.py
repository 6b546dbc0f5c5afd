"""Multi-index hashing (Norouzi, Punjani & Fleet) over 256-bit hashes, exact at any radius.

The 256 bits are cut into m contiguous substrings.  If two hashes are within t
bits, write t = m*r + a (0 <= a < m): at least one of any a+1 chosen substrings
is within r bits, or one of the remaining within r-1 bits (else the total
would be >= (a+1)(r+1) + (m-a-1)r = t+1).  Probing every substring value
within those radii therefore finds every true neighbour; candidates are then
verified with a full popcount, so the result is exact.

Each substring table is a direct-address CSR: ``offsets[key] .. offsets[key+1]``
delimit the rows whose substring equals ``key`` in ``rows`` (rows sorted by
key).  A probe costs two adjacent reads, no hashing.  The layout (how many
substrings) is chosen per bank size by a cost model; the search loop is the
numba kernel in :mod:`crossmatch.index.hamming_kernels`.

Why not faiss's IndexBinaryMultiHash: it keeps std::unordered_map buckets
(about 1 GB per million hashes with 16 maps, measured in bench/pdq_lookup.py),
needs substrings of equal length, searches every substring at one radius and
deduplicates candidates through a set, which makes it 10-100x slower here.
"""

from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np

from crossmatch.index import hamming_kernels
from crossmatch.index.hamming import HASH_BITS, run_range_kernel

MAX_SUBSTRING_BITS = 24  # offsets table of 2**24 int32 = 64 MB per substring
MAX_RADIUS = 6  # beyond this the probe masks alone get large; scanning is cheaper anyway
# Rough per-item costs (ns, one core) from bench/pdq_lookup.py runs; only their
# ratios matter: they pick the layout and choose MIH versus an exhaustive scan.
PROBE_COST = 40.0
CANDIDATE_COST = 50.0
SCAN_COST = 1.6


def split_bits(m: int) -> list[tuple[int, int]]:
    """m contiguous (start, length) substrings covering all 256 bits, lengths differing by <= 1."""
    base, extra = divmod(HASH_BITS, m)
    out, start = [], 0
    for i in range(m):
        length = base + (1 if i < extra else 0)
        out.append((start, length))
        start += length
    return out


def ball_size(bits: int, radius: int) -> int:
    return sum(comb(bits, k) for k in range(0, min(radius, bits) + 1)) if radius >= 0 else 0


def radii(lengths: list[int], threshold: int, n: int) -> list[int]:
    """Per-substring search radius for ``threshold`` (-1 = substring not probed).

    The a+1 substrings that get the larger radius r are those where it costs least.
    """
    m = len(lengths)
    r, a = divmod(threshold, m)

    def cost(bits: int, radius: int) -> float:
        return ball_size(bits, radius) * (PROBE_COST + CANDIDATE_COST * n / 2.0**bits)

    extra = sorted(range(m), key=lambda i: cost(lengths[i], r) - cost(lengths[i], r - 1))[: a + 1]
    return [r if i in extra else r - 1 for i in range(m)]


def estimated_cost(lengths: list[int], threshold: int, n: int) -> float:
    """Expected ns per query of a MIH lookup over n uniformly random hashes."""
    total = 0.0
    for bits, radius in zip(lengths, radii(lengths, threshold, n)):
        total += ball_size(bits, radius) * (PROBE_COST + CANDIDATE_COST * n / 2.0**bits)
    return total


def choose_substrings(n: int, threshold: int = 31) -> int:
    """The number of substrings that minimises the expected cost at ``threshold``."""
    best_m, best_cost = 0, float("inf")
    for m in range(-(-HASH_BITS // MAX_SUBSTRING_BITS), 33):
        c = estimated_cost([length for _, length in split_bits(m)], threshold, n)
        if c < best_cost:
            best_m, best_cost = m, c
    return best_m


def substring_keys(words: np.ndarray, start: int, length: int) -> np.ndarray:
    """Bits [start, start+length) of each (n, 4) uint64 row as uint32 (length <= 32)."""
    word, offset = divmod(start, 64)
    mask = np.uint64((1 << length) - 1)
    if offset + length <= 64:
        keys = words[:, word] >> np.uint64(64 - offset - length)
    else:
        spill = offset + length - 64
        keys = (words[:, word] << np.uint64(spill)) | (words[:, word + 1] >> np.uint64(64 - spill))
    return (keys & mask).astype(np.uint32)


def flip_masks(bits: int, radius: int) -> np.ndarray:
    """Every value of ``bits`` bits with at most ``radius`` bits set (the probe XOR masks)."""
    masks = [0]
    for k in range(1, min(radius, bits) + 1):
        masks.extend(sum(1 << b for b in combo) for combo in combinations(range(bits), k))
    return np.array(masks, dtype=np.uint32)


class MultiIndexTable:
    """Immutable MIH tables over one (n, 4) uint64 array of hashes; exact neighbours by row.

    ``offsets`` concatenates one direct-address table per substring (table t
    starts at ``offset_base[t]``): rows whose substring t equals ``key`` are
    ``rows[t, offsets[base + key] : offsets[base + key + 1]]``.
    """

    def __init__(self, words: np.ndarray, layout: np.ndarray, offsets: np.ndarray, rows: np.ndarray) -> None:
        self.words = words
        self.layout = layout  # (m, 2) int64: start bit, length
        self.offsets = offsets
        self.rows = rows
        lengths = layout[:, 1]
        self.offset_base = np.concatenate([[0], np.cumsum((1 << lengths) + 1)[:-1]]).astype(np.int64)
        self._costs: dict[int, float] = {}
        self._radii: dict[int, list[int]] = {}
        self._plans: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}

    @classmethod
    def build(cls, words: np.ndarray, m: int | None = None, layout: list[tuple[int, int]] | None = None) -> "MultiIndexTable":
        """Tables over ``words``; ``layout`` (start, length) pairs may leave bits out (approximate search only)."""
        n = len(words)
        layout = np.array(layout if layout is not None else split_bits(m or choose_substrings(n)), dtype=np.int64)
        row_dtype = np.int32 if n < 2**31 else np.int64
        offsets = np.empty(int(((1 << layout[:, 1]) + 1).sum()), dtype=row_dtype)
        rows = np.empty((len(layout), n), dtype=row_dtype)
        base = 0
        for t, (start, length) in enumerate(layout.tolist()):
            keys = substring_keys(words, start, length)
            table = offsets[base : base + (1 << length) + 1]
            table[0] = 0
            np.cumsum(np.bincount(keys, minlength=1 << length), out=table[1:])
            hamming_kernels.counting_sort_rows(keys, table, rows[t])
            base += (1 << length) + 1
        return cls(words, layout, offsets, rows)

    @property
    def lengths(self) -> list[int]:
        return self.layout[:, 1].tolist()

    def estimated_cost(self, threshold: int) -> float:
        if threshold not in self._costs:
            self._costs[threshold] = estimated_cost(self.lengths, threshold, len(self.words))
        return self._costs[threshold]

    def table_radii(self, threshold: int) -> list[int]:
        if threshold not in self._radii:
            self._radii[threshold] = radii(self.lengths, threshold, len(self.words))
        return self._radii[threshold]

    def max_radius(self, threshold: int) -> int:
        return max(self.table_radii(threshold))

    def _plan(self, threshold: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(radius per table, probe masks, each table's first and end mask), cached per threshold."""
        if threshold not in self._plans:
            self._plans[threshold] = self._plan_for(self.table_radii(threshold))
        return self._plans[threshold]

    def _plan_for(self, radii_per_table: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        table_radii = np.array(radii_per_table, dtype=np.int64)
        radius = int(table_radii.max())
        # Masks of every table up to the largest radius, sorted by popcount, so a
        # table's ball of radius r is a prefix of its masks.
        per_length = {b: flip_masks(b, radius) for b in set(self.lengths)}
        parts = [per_length[b] for b in self.lengths]
        first = np.concatenate([[0], np.cumsum([len(p) for p in parts])[:-1]]).astype(np.int64)
        end = first + np.array([ball_size(b, r) for b, r in zip(self.lengths, table_radii.tolist())], np.int64)
        return table_radii, np.concatenate(parts), first, end

    def search_probing(self, query_words: np.ndarray, threshold: int, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Approximate range search: every substring probed within ``radius`` bits only.

        Finds every row within ``threshold`` whose difference leaves some substring within
        ``radius`` bits (all rows within m*(radius+1)-1 bits when substrings cover every
        bit) and, beyond that, rows by chance: what local-feature descriptors need, whose
        true matches lie 20-60 bits apart, where an exact search would probe too much.
        """
        key = -1 - radius  # plans of exact searches are keyed by threshold >= 0
        if key not in self._plans:
            self._plans[key] = self._plan_for([radius] * len(self.layout))
        return self._run(query_words, threshold, self._plans[key])

    def search(self, query_words: np.ndarray, threshold: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All (query index, row, distance) with distance <= threshold, each pair once."""
        if threshold < 0:
            return run_range_kernel(hamming_kernels.search_batch, query_words, threshold)
        return self._run(query_words, threshold, self._plan(threshold))

    def _run(self, query_words: np.ndarray, threshold: int, plan) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        table_radii, masks, first, end = plan
        return run_range_kernel(
            hamming_kernels.search_batch, query_words, threshold, self.words, self.layout[:, 0].copy(),
            self.layout[:, 1].copy(), table_radii, self.offsets, self.offset_base, self.rows, masks, first, end,
        )
