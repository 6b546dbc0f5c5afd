"""The fast index of the ``keypoints`` signal type: descriptors in a Hamming multi-index, votes
per bank image, RANSAC on the best-voted few.

All bank descriptors (256-bit ORB) sit in one :class:`crossmatch.index.mih.MultiIndexTable`
searched approximately (:meth:`~crossmatch.index.mih.MultiIndexTable.search_probing`):
substrings probed within a small radius find descriptor pairs 20-50 bits apart with good
odds and almost never random ones, where an exact 50-bit range search would read most of
the table.  Descriptors added since the last build sit in a small tail scanned exhaustively,
so a new bank image is matchable at once.  A full tail becomes a segment with tables of its
own, and segments merge whenever the newer one reaches a quarter of the older (so there are
about log4(n / TAIL_LIMIT) of them and each descriptor is re-sorted a few times in all).

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

TAIL_LIMIT = 4096  # descriptors scanned exhaustively before they get tables
MERGE_RATIO = 4


def table_layout(tables: int, bits: int) -> list[tuple[int, int]]:
    """``tables`` substrings of ``bits`` bits, spread evenly over the 256 descriptor bits."""
    return [(round(i * (256 - bits) / max(1, tables - 1)), bits) for i in range(tables)]


class _Segment:
    """Descriptors (as uint64 words) with their slot and keypoint number, and MIH tables over them."""

    def __init__(self, words: np.ndarray, slots: np.ndarray, rows: np.ndarray, layout) -> None:
        self.words, self.slots, self.rows = np.ascontiguousarray(words), slots, rows
        self.tables = mih.MultiIndexTable.build(self.words, layout=layout)

    def __len__(self) -> int:
        return len(self.words)

    def nbytes(self) -> int:
        return self.words.nbytes + self.slots.nbytes + self.rows.nbytes + self.tables.rows.nbytes + self.tables.offsets.nbytes


class KeypointIndex:
    def __init__(self, settings: KeypointSettings | None = None) -> None:
        self.cfg = settings or KeypointSettings()
        self._layout = table_layout(self.cfg.index_tables, self.cfg.index_bits)
        self._images: dict[int, tuple[int, Keypoints]] = {}  # signal id -> (slot, positions and frame)
        self._slot_ids: list[int] = []  # slot -> signal id; a slot is dead once its id moved or left
        self._segments: list[_Segment] = []  # oldest (largest) first
        self._tail: list[tuple[np.ndarray, int]] = []  # (descriptor words, slot) added since the last segment
        self._tail_size = 0
        self._tail_joined: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # words, slots, rows

    # -- changes ------------------------------------------------------------
    def add(self, entries: Iterable[tuple[int, Signal]]) -> None:
        for signal_id, signal in entries:
            try:
                keypoints = Keypoints.decode(signal.value)
            except KeypointFormatError as exc:
                raise InvalidSignal(f"keypoints signal {signal_id}: {exc}") from None
            self.add_keypoints(signal_id, keypoints, seal=False)
        if self._tail_size >= TAIL_LIMIT:
            self._seal()  # once per call: a bulk load builds one segment

    def add_keypoints(self, signal_id: int, keypoints: Keypoints, seal: bool = True) -> None:
        self._images.pop(signal_id, None)  # re-added: the old slot dies
        slot = len(self._slot_ids)
        self._slot_ids.append(signal_id)
        # Keep positions and frame only: descriptors live in the segments.
        geometry = replace(keypoints, descriptors=np.empty((0, 32), np.uint8), angle=np.empty(0, np.uint8),
                           octave=np.empty(0, np.uint8))
        self._images[signal_id] = (slot, geometry)
        if len(keypoints):
            self._tail.append((hamming.to_words(keypoints.descriptors), slot))
            self._tail_size += len(keypoints)
            self._tail_joined = None
        if seal and self._tail_size >= TAIL_LIMIT:
            self._seal()

    def remove(self, signal_ids: Iterable[int]) -> None:
        for signal_id in signal_ids:
            self._images.pop(signal_id, None)

    def __len__(self) -> int:
        return len(self._images)

    def descriptor_count(self) -> int:
        return sum(len(s) for s in self._segments) + self._tail_size

    def memory_bytes(self) -> int:
        """Bytes held by segments, tail and positions, for the benchmark."""
        tail = self._tail_size * (32 + 6)  # words + slot + keypoint number
        positions = sum(kp.xy.nbytes for _, kp in self._images.values())
        return sum(s.nbytes() for s in self._segments) + tail + positions

    def _joined_tail(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The tail as one (words, slots, rows) triple, scanned in one kernel call."""
        if self._tail_joined is None:
            words = [w for w, _ in self._tail] or [np.empty((0, 4), np.uint64)]
            slots = [np.full(len(w), slot, np.int32) for w, slot in self._tail] or [np.empty(0, np.int32)]
            rows = [np.arange(len(w), dtype=np.uint16) for w, _ in self._tail] or [np.empty(0, np.uint16)]
            self._tail_joined = (np.ascontiguousarray(np.concatenate(words)), np.concatenate(slots), np.concatenate(rows))
        return self._tail_joined

    def _seal(self) -> None:
        """Turn the tail into a segment, then merge segments while the newest is >= 1/4 of the one before."""
        words, slots, rows = self._joined_tail()
        parts = [(words, slots, rows)]
        while self._segments and len(self._segments[-1]) <= MERGE_RATIO * sum(len(p[0]) for p in parts):
            old = self._segments.pop()
            parts.insert(0, (old.words, old.slots, old.rows))
        words, slots, rows = (np.concatenate(col) for col in zip(*parts))
        live = self._live_slots()[slots]  # descriptors of removed or replaced images are dropped here
        self._segments.append(_Segment(words[live], slots[live], rows[live], self._layout))
        self._tail, self._tail_size, self._tail_joined = [], 0, None

    def _live_slots(self) -> np.ndarray:
        alive = np.zeros(len(self._slot_ids), bool)
        alive[[slot for slot, _ in self._images.values()]] = True
        return alive

    # -- lookups ------------------------------------------------------------
    def pairs(self, query: Keypoints) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(slot, query row, bank row, distance) of descriptor pairs within ``descriptor_distance``."""
        words = hamming.to_words(query.descriptors)
        limit = self.cfg.descriptor_distance
        parts = []
        for segment in self._segments:
            qi, row, d = segment.tables.search_probing(words, limit, self.cfg.index_radius)
            parts.append((segment.slots[row], qi, segment.rows[row].astype(np.int64), d))
        if self._tail:
            tail_words, tail_slots, tail_rows = self._joined_tail()
            qi, row, d = hamming.scan(words, tail_words, limit)
            parts.append((tail_slots[row], qi, tail_rows[row].astype(np.int64), d))
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
        # Votes: distinct query keypoints with a close descriptor pair in the bank image.
        close = d <= self.cfg.vote_distance
        voted = np.unique(slots[close].astype(np.int64) * (1 << 20) + qi[close])
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
