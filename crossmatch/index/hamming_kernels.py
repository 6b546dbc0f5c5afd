"""Compiled inner loops of Hamming range search over 256-bit hashes (numba).

Why by hand: a MIH lookup is thousands of tiny dependent steps per query
(probe a bucket, read its rows, popcount each candidate).  In numpy each step
becomes a pass over a temporary array and costs several times more than the
memory reads themselves; no library offers exact MIH range search with a
compact table (see mih.py).  The exhaustive scan is here too: faiss's
``hamming_range_search`` does the same loop but through OpenMP, whose
start-up costs milliseconds per call on a busy 2-core machine.  Kernels
release the GIL so a batch can be split over threads; they are compiled
lazily on first call and cached on disk.

Hashes are (n, 4) uint64 words; each kernel appends (query, row, distance)
triples to caller-owned output arrays and returns (next query to do, triples
written, triples of the next query) so the caller can grow the output and
resume: see :func:`crossmatch.index.hamming.run_range_kernel`.
"""

from __future__ import annotations

import numba
import numpy as np

_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)


@numba.njit(inline="always")
def popcount64(x):
    # SWAR popcount; LLVM turns this into the popcnt instruction where available.
    x = x - ((x >> np.uint64(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return (x * _H01) >> np.uint64(56)


@numba.njit(inline="always")
def substring(w0, w1, w2, w3, start, length):
    """Bits [start, start+length) of a 256-bit value given as four big-endian words."""
    word = start // 64
    offset = start % 64
    if word == 0:
        a, b = w0, w1
    elif word == 1:
        a, b = w1, w2
    elif word == 2:
        a, b = w2, w3
    else:
        a, b = w3, np.uint64(0)
    mask = (np.uint64(1) << np.uint64(length)) - np.uint64(1)
    if offset + length <= 64:
        return (a >> np.uint64(64 - offset - length)) & mask
    spill = offset + length - 64
    return ((a << np.uint64(spill)) | (b >> np.uint64(64 - spill))) & mask


@numba.njit(nogil=True, cache=True)
def counting_sort_rows(keys, offsets, rows):
    """rows sorted by key given offsets = exclusive prefix sums of key counts (O(n))."""
    cursor = offsets[:-1].copy()
    for i in range(keys.shape[0]):
        k = keys[i]
        rows[cursor[k]] = i
        cursor[k] += 1


@numba.njit(inline="always")
def distance(words, row, q0, q1, q2, q3):
    return (popcount64(words[row, 0] ^ q0) + popcount64(words[row, 1] ^ q1)
            + popcount64(words[row, 2] ^ q2) + popcount64(words[row, 3] ^ q3))


@numba.njit(inline="always")
def seen_before(words, row, table, q0, q1, q2, q3, starts, lengths, radii):
    """Whether an earlier substring's ball also holds ``row`` (it was reported from there)."""
    x0, x1, x2, x3 = words[row, 0] ^ q0, words[row, 1] ^ q1, words[row, 2] ^ q2, words[row, 3] ^ q3
    for e in range(table):
        if radii[e] >= 0 and popcount64(substring(x0, x1, x2, x3, starts[e], lengths[e])) <= radii[e]:
            return True
    return False


@numba.njit(nogil=True, cache=True)
def search_batch(queries, threshold, out_q, out_rows, out_d, first_query,
                 words, starts, lengths, radii, offsets, offset_base, rows, masks, mask_lo, mask_hi):
    """MIH range search of queries[first_query:] (see mih.MultiIndexTable for the tables).

    A neighbour reached through several substrings is reported only from the
    first substring whose ball contains it, so each pair appears once.

    Each query runs in three passes (bucket bounds, candidate rows, verify) so
    the random reads of one pass are independent and overlap in the CPU.
    """
    m = starts.shape[0]
    cap = out_q.shape[0]
    n_probes = 0
    for t in range(m):
        if radii[t] >= 0:
            n_probes += mask_hi[t] - mask_lo[t]
    bucket_lo = np.empty(n_probes, np.int64)
    bucket_hi = np.empty(n_probes, np.int64)
    bucket_table = np.empty(n_probes, np.int64)
    cand_rows = np.empty(n_probes + 1024, np.int64)
    cand_table = np.empty(n_probes + 1024, np.int64)
    written = 0
    for qi in range(first_query, queries.shape[0]):
        q0, q1, q2, q3 = queries[qi, 0], queries[qi, 1], queries[qi, 2], queries[qi, 3]
        nb = 0
        n_cand = 0
        for t in range(m):
            if radii[t] < 0:
                continue
            key = substring(q0, q1, q2, q3, starts[t], lengths[t])
            base = offset_base[t]
            for j in range(mask_lo[t], mask_hi[t]):  # the ball of radius radii[t] around the key
                probe = base + np.int64(key ^ masks[j])
                lo = offsets[probe]
                hi = offsets[probe + 1]
                # Branch-free: most buckets hold 0-2 rows, so a branch here mispredicts half the time.
                bucket_lo[nb] = lo
                bucket_hi[nb] = hi
                bucket_table[nb] = t
                nb += hi > lo
                n_cand += hi - lo
        if n_cand > cand_rows.shape[0]:
            cand_rows = np.empty(2 * n_cand, np.int64)
            cand_table = np.empty(2 * n_cand, np.int64)
        c = 0
        for b in range(nb):
            t = bucket_table[b]
            for p in range(bucket_lo[b], bucket_hi[b]):
                cand_rows[c] = rows[t, p]
                cand_table[c] = t
                c += 1
        found = 0  # verified neighbours, compacted to the front of the candidate buffers
        for k in range(c):
            row = cand_rows[k]
            d = distance(words, row, q0, q1, q2, q3)
            if d <= threshold and not seen_before(words, row, cand_table[k], q0, q1, q2, q3, starts, lengths, radii):
                cand_rows[found] = row
                cand_table[found] = d
                found += 1
        if written + found > cap:
            return qi, written, found  # caller grows the output to hold `found` more and resumes here
        for k in range(found):
            out_q[written] = qi
            out_rows[written] = cand_rows[k]
            out_d[written] = cand_table[k]
            written += 1
    return queries.shape[0], written, 0


@numba.njit(nogil=True, cache=True)
def scan_batch(queries, threshold, out_q, out_rows, out_d, first_query, words):
    """Exhaustive range search of queries[first_query:] over all rows of ``words``."""
    cap = out_q.shape[0]
    written = 0
    for qi in range(first_query, queries.shape[0]):
        q0, q1, q2, q3 = queries[qi, 0], queries[qi, 1], queries[qi, 2], queries[qi, 3]
        mark = written
        for row in range(words.shape[0]):
            d = distance(words, row, q0, q1, q2, q3)
            if d <= threshold:
                if written == cap:
                    # Output full: count this query's neighbours so the caller can make room.
                    pending = written - mark
                    for rest in range(row, words.shape[0]):
                        pending += distance(words, rest, q0, q1, q2, q3) <= threshold
                    return qi, mark, pending
                out_q[written] = qi
                out_rows[written] = row
                out_d[written] = d
                written += 1
    return queries.shape[0], written, 0
