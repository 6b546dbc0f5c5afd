"""The fast index of the ``keypoints`` signal type: descriptors in a Hamming multi-index, votes
per bank image, RANSAC on the best-voted few.

All bank descriptors (256-bit ORB) sit in one :class:`crossmatch.index.mih.MultiIndexTable`
searched approximately (:meth:`~crossmatch.index.mih.MultiIndexTable.search_probing`):
substrings probed within a small radius find descriptor pairs 20-60 bits apart with good
odds and almost never random ones, where an exact 64-bit range search would read most of
the table.  Descriptors added since the last build sit in a tail scanned exhaustively, so a
new bank image is matchable at once; the table is rebuilt when the tail outgrows 1/8 of it.

Each bank image with at least ``threshold`` voting query keypoints is a candidate; the
``max_verify`` best-voted are verified exactly as the brute-force index verifies every bank
image (:func:`crossmatch.media.keypoints.verify`), so the two differ only in descriptor pairs
the probing did not reach.  Per descriptor the index keeps 32 bytes of descriptor, 4 bytes
per table, a 4-byte slot and a 2-byte keypoint number, plus 8 bytes of position.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable

import numpy as np

from crossmatch.index import hamming, mih
from crossmatch.media.keypoint_settings import KeypointSettings
from crossmatch.media.keypoints import KeypointFormatError, Keypoints, verify
from crossmatch.signals.base import IndexHit, InvalidSignal, Signal

MIN_TAIL = 50_000  # descriptors scanned exhaustively before the tables are (re)built


def table_layout(tables: int, bits: int) -> list[tuple[int, int]]:
    """``tables`` substrings of ``bits`` bits, spread evenly over the 256 descriptor bits."""
    return [(round(i * (256 - bits) / max(1, tables - 1)), bits) for i in range(tables)]


class KeypointIndex:
    def __init__(self, settings: KeypointSettings | None = None) -> None:
        self.cfg = settings or KeypointSettings()
        self._images: dict[int, tuple[int, Keypoints]] = {}  # signal id -> (slot, positions and frame)
        self._slot_ids: list[int] = []  # slot -> signal id; a slot is dead once its id moved or left
        self._words = np.empty((0, 4), np.uint64)  # descriptors of the tables
        self._slots = np.empty(0, np.int32)
        self._rows = np.empty(0, np.uint16)
        self._tables: mih.MultiIndexTable | None = None
        self._tail: list[tuple[np.ndarray, int]] = []  # (descriptor words, slot) added since the build
        self._tail_size = 0

    # -- changes ------------------------------------------------------------
    def add(self, entries: Iterable[tuple[int, Signal]]) -> None:
        for signal_id, signal in entries:
            try:
                keypoints = Keypoints.decode(signal.value)
            except KeypointFormatError as exc:
                raise InvalidSignal(f"keypoints signal {signal_id}: {exc}") from None
            slot = len(self._slot_ids)
            self._slot_ids.append(signal_id)
            # Keep positions and frame only: descriptors live in the table arrays.
            geometry = replace(keypoints, descriptors=np.empty((0, 32), np.uint8), angle=np.empty(0, np.uint8),
                               octave=np.empty(0, np.uint8))
            self._images[signal_id] = (slot, geometry)
            if len(keypoints):
                self._tail.append((hamming.to_words(keypoints.descriptors), slot))
                self._tail_size += len(keypoints)

    def remove(self, signal_ids: Iterable[int]) -> None:
        for signal_id in signal_ids:
            self._images.pop(signal_id, None)

    def __len__(self) -> int:
        return len(self._images)

    def descriptor_count(self) -> int:
        return len(self._words) + self._tail_size

    def memory_bytes(self) -> int:
        """Bytes held per the arrays above (tables, descriptors, positions), for the benchmark."""
        tables = 0 if self._tables is None else self._tables.rows.nbytes + self._tables.offsets.nbytes
        tail = sum(w.nbytes + 6 * len(w) for w, _ in self._tail)
        positions = sum(kp.xy.nbytes for _, kp in self._images.values())
        return tables + self._words.nbytes + self._slots.nbytes + self._rows.nbytes + tail + positions

    def _build(self) -> None:
        """Merge the tail into the tables (and drop dead slots' descriptors)."""
        words, slots, rows = [self._words], [self._slots], [self._rows]
        for w, slot in self._tail:
            words.append(w)
            slots.append(np.full(len(w), slot, np.int32))
            rows.append(np.arange(len(w), dtype=np.uint16))
        words_all, slots_all, rows_all = np.concatenate(words), np.concatenate(slots), np.concatenate(rows)
        live = self._live_slots()[slots_all] if len(slots_all) else np.empty(0, bool)
        self._words = np.ascontiguousarray(words_all[live])
        self._slots, self._rows = slots_all[live], rows_all[live]
        self._tables = mih.MultiIndexTable.build(self._words, layout=table_layout(self.cfg.index_tables, self.cfg.index_bits))
        self._tail, self._tail_size = [], 0

    def _live_slots(self) -> np.ndarray:
        alive = np.zeros(len(self._slot_ids), bool)
        alive[[slot for slot, _ in self._images.values()]] = True
        return alive

    # -- lookups ------------------------------------------------------------
    def pairs(self, query: Keypoints) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(slot, query row, bank row, distance) of descriptor pairs within ``descriptor_distance``."""
        if self._tail_size > max(MIN_TAIL, len(self._words) // 8):
            self._build()
        words = hamming.to_words(query.descriptors)
        limit = self.cfg.descriptor_distance
        parts = []
        if self._tables is not None and len(self._words):
            qi, row, d = self._tables.search_probing(words, limit, self.cfg.index_radius)
            parts.append((self._slots[row], qi, self._rows[row].astype(np.int64), d))
        for tail_words, slot in self._tail:
            qi, row, d = hamming.scan(words, tail_words, limit)
            parts.append((np.full(len(qi), slot, np.int32), qi, row, d))
        if not parts:
            empty = np.empty(0, np.int64)
            return empty, empty, empty, empty
        return tuple(np.concatenate(col) for col in zip(*parts))  # type: ignore[return-value]

    def query(self, signal: Signal, threshold: float) -> list[IndexHit]:
        try:
            query = Keypoints.decode(signal.value)
        except KeypointFormatError as exc:
            raise InvalidSignal(str(exc)) from None
        if not len(query) or not self._images:
            return []
        slots, qi, bi, d = self.pairs(query)
        alive = self._live_slots()
        keep = alive[slots]
        slots, qi, bi, d = slots[keep], qi[keep], bi[keep], d[keep]
        # Votes: distinct query keypoints with a descriptor pair in the bank image.
        voted = np.unique(slots.astype(np.int64) * (1 << 20) + qi)
        votes = np.bincount((voted >> 20).astype(np.int64), minlength=len(self._slot_ids))
        need = max(3, int(np.ceil(threshold)))
        candidates = [s for s in np.argsort(-votes, kind="stable")[: self.cfg.max_verify] if votes[s] >= need]
        hits = []
        for slot in candidates:
            signal_id = self._slot_ids[slot]
            bank = self._images[signal_id][1]
            mine = slots == slot
            verified = verify(query, bank, qi[mine], bi[mine], d[mine], need, self.cfg)
            if verified is not None:
                evidence = verified.evidence(query, bank)
                hits.append(IndexHit(signal_id, score=float(verified.inliers), evidence=evidence))
        return hits
