"""vPDQ: Meta's video hash, a PDQ hash per sampled frame, matched clip-to-clip.

Signals are the distinct frame hashes of a video (one per second by default),
each carrying its frame number and time.  Frames are looked up one by one in a
PDQ index; ``match`` then groups frame hits per bank item and decides at clip
level from the share of usable frames covered on each side, so a 20-second
excerpt of a 3-minute bank video matches (query fully covered) and so does a
long compilation that contains a whole bank clip (bank fully covered).  Evidence
gives the matched time ranges in both videos and the time offset between them.

Unlike python-threatexchange, a video whose frames are all below the quality
floor (black, flat, tiny) is reported as a ContentError instead of dividing by
zero, and coverage never divides by an empty frame set.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from crossmatch.index.brute import BruteForceIndex
from crossmatch.media.video import hash_video, video_file
from crossmatch.settings import Settings, VideoSettings
from crossmatch.signals.base import (BankSignalLookup, Candidate, Content, ContentError, InvalidSignal, Signal,
                                     SignalIndex)

_HEX64 = re.compile(r"[0-9a-f]{64}")
MAX_EVIDENCE_PAIRS = 20
MAX_TIMES = 300  # repeat times kept per deduplicated frame signal (counts are always exact)


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def time_ranges(times: Sequence[float], step: float, duration: float | None = None) -> list[list[float]]:
    """Merge matched frame times into [start, end] ranges; gaps under a second are bridged."""
    out: list[list[float]] = []
    for t in sorted(set(times)):
        if out and t - out[-1][1] <= max(2 * step, 1.0) + 1e-3:  # bridge short runs of unmatched frames
            out[-1][1] = t + step
        else:
            out.append([t, t + step])
    if duration:
        for r in out:
            r[1] = min(r[1], max(duration, r[0]))
    return [[round(a, 3), round(b, 3)] for a, b in out]


def _slots(signal: Signal) -> list[float]:
    """Times at which this (deduplicated) frame hash occurs (the first MAX_TIMES of them)."""
    return [float(signal.meta.get("time", 0.0)), *map(float, signal.meta.get("also_at", ()))]


def _count(signal: Signal) -> int:
    """Frames this signal stands for, itself included."""
    return 1 + int(signal.meta.get("repeats", len(signal.meta.get("also_at", ()))))


@dataclass
class _ItemHits:
    query_best: dict[int, int] = field(default_factory=dict)  # query position -> best distance
    bank: dict[int, Signal] = field(default_factory=dict)  # bank signal id -> signal
    pairs: list[tuple[float, float, int]] = field(default_factory=list)  # (query t, bank t, distance)


@dataclass(frozen=True)
class VpdqType:
    settings: VideoSettings
    name: str = "vpdq"
    content_kinds: frozenset[str] = frozenset({"video"})
    metric: str = "distance"
    default_threshold: float = 31.0  # frame-level PDQ distance, the vPDQ default
    max_threshold: float = 64.0

    def validate(self, value: str) -> str:
        value = value.strip().lower()
        if not _HEX64.fullmatch(value):
            raise InvalidSignal(f"vpdq frame hashes are 64 hex characters (256 bits), got {value[:80]!r}")
        return value

    def hash(self, content: Content) -> list[Signal]:
        cfg = self.settings
        with video_file(content, cfg.max_bytes) as path:
            video = hash_video(path, content.item, cfg)
        usable = [f for f in video.frames if f.quality >= cfg.min_quality]
        if not usable:
            raise ContentError(
                f"{content.item}: all {len(video.frames)} sampled frames have PDQ quality below "
                f"{cfg.min_quality} (blank, flat or tiny video); nothing to match"
            )
        step = cfg.seconds_per_hash or (video.duration_s / max(1, len(video.frames)))
        common: dict[str, Any] = {"duration": round(video.duration_s, 3), "step": round(step, 3),
                                  "slots": len(usable)}
        if video.warning:  # e.g. truncated: hashed as far as it decodes, and the evidence says so
            common["warning"] = video.warning
        # Still shots repeat a frame hash (or nearly): keep one signal and remember when it recurs,
        # so coverage still counts every frame while the index stores far fewer.
        by_hex: dict[str, dict[str, Any]] = {}
        last: str | None = None
        for f in video.frames:
            meta = by_hex.get(f.hex)
            if meta is None and last is not None and f.quality >= cfg.min_quality \
                    and hamming(f.hex, last) <= cfg.dedupe_bits:
                meta = by_hex[last]
            if meta is None:
                by_hex[f.hex] = {"frame": f.frame, "time": f.time, "quality": f.quality, **common}
                last = f.hex
            else:
                meta["repeats"] = meta.get("repeats", 0) + 1
                if meta["repeats"] <= MAX_TIMES:  # bounded: a static hour must not make a huge signal
                    meta.setdefault("also_at", []).append(f.time)
        return [Signal(self.name, hex_, meta.pop("quality"), meta) for hex_, meta in by_hex.items()]

    def compare(self, a: Signal, b: Signal) -> float:
        return float(hamming(a.value, b.value))

    def examples(self) -> list[Signal]:
        meta = {"frame": 0, "time": 0.0, "duration": 1.0, "step": 1.0, "slots": 1}
        return [
            Signal(self.name, "e46926b9cb58d261383b699f0ff2e1076fe6183dfb4986d82ca36da48034fc54", 100, meta),
            Signal(self.name, "f" * 64, 100, meta),
        ]

    def brute_force_index(self) -> SignalIndex:
        return BruteForceIndex(self.compare, "distance")

    def fast_index(self) -> SignalIndex | None:
        try:
            from crossmatch.index.pdq_fast import PdqIndex
        except ImportError:  # the fast PDQ index is optional; brute force defines the same answer
            return None
        return PdqIndex()

    def _frame_hits(self, queries: Sequence[Signal], index: SignalIndex, threshold: float) -> list[list[tuple[int, int]]]:
        query_many = getattr(index, "query_many", None)
        if query_many is not None:  # one batched scan instead of one per frame
            rows = np.frombuffer(b"".join(bytes.fromhex(q.value) for q in queries), dtype=np.uint8)
            return [[(int(i), int(d)) for i, d in hits] for hits in query_many(rows.reshape(-1, 32), int(threshold))]
        return [[(h.signal_id, int(h.distance or 0)) for h in index.query(q, threshold)] for q in queries]

    def match(self, queries: Sequence[Signal], index: SignalIndex, threshold: float,
              lookup: BankSignalLookup) -> list[Candidate]:
        cfg = self.settings
        # Signals without a quality (e.g. from an exchange) are trusted; low-quality frames match anything.
        usable = [q for q in queries if q.quality is None or q.quality >= cfg.min_quality]
        if not usable:
            return []
        frame_hits = self._frame_hits(usable, index, threshold)
        resolved = lookup(sorted({sid for hits in frame_hits for sid, _ in hits}))
        per_item: dict[int, _ItemHits] = {}
        for pos, (q, hits) in enumerate(zip(usable, frame_hits)):
            for sid, dist in hits:
                if sid not in resolved:
                    continue
                item_id, bank_signal = resolved[sid]
                if bank_signal.quality is not None and bank_signal.quality < cfg.min_quality:
                    continue
                rec = per_item.setdefault(item_id, _ItemHits())
                rec.query_best[pos] = min(dist, rec.query_best.get(pos, dist))
                rec.bank[sid] = bank_signal
                rec.pairs.append((float(q.meta.get("time", 0.0)), float(bank_signal.meta.get("time", 0.0)), dist))
        query_slots = sum(_count(q) for q in usable)
        out = []
        for rec in per_item.values():
            cand = self._decide(usable, query_slots, rec)
            if cand is not None:
                out.append(cand)
        return out

    def _decide(self, usable: Sequence[Signal], query_slots: int, rec: _ItemHits) -> Candidate | None:
        cfg = self.settings
        q_times = [t for pos in rec.query_best for t in _slots(usable[pos])]
        b_times = [t for s in rec.bank.values() for t in _slots(s)]
        some_bank = next(iter(rec.bank.values()))
        bank_slots = int(some_bank.meta.get("slots") or 0)
        q_matched = sum(_count(usable[pos]) for pos in rec.query_best)
        b_matched = sum(_count(s) for s in rec.bank.values())
        q_cov = min(1.0, q_matched / query_slots)
        # Without the bank video's frame count (old or imported hashes) only the query side can decide.
        b_cov = min(1.0, b_matched / bank_slots) if bank_slots else None
        needed = min(cfg.min_matched_frames, query_slots)
        if q_matched < needed:
            return None
        if q_cov < cfg.min_query_coverage and (b_cov is None or b_cov < cfg.min_bank_coverage):
            return None
        q_step = float(usable[0].meta.get("step") or 1.0)
        b_step = float(some_bank.meta.get("step") or 1.0)
        best = sorted(rec.pairs, key=lambda p: (p[0], p[2]))
        evidence = {
            "query_coverage": round(q_cov, 4),
            "bank_coverage": None if b_cov is None else round(b_cov, 4),
            "query_ranges": time_ranges(q_times, q_step, usable[0].meta.get("duration")),
            "bank_ranges": time_ranges(b_times, b_step, some_bank.meta.get("duration")),
            "matched_query_frames": q_matched,
            "query_frames": query_slots,
            "matched_bank_frames": b_matched,
            "bank_frames": bank_slots or None,
            "offset_s": round(statistics.median(b - q for q, b, _ in rec.pairs), 3),
            "frame_pairs": [[q, b, d] for q, b, d in best[:MAX_EVIDENCE_PAIRS]],
        }
        distance = sum(rec.query_best.values()) / len(rec.query_best)
        return Candidate(tuple(sorted(rec.bank)), distance=round(distance, 2), score=round(max(q_cov, b_cov or 0), 4),
                         evidence=evidence)


def create(settings: Settings) -> VpdqType:
    return VpdqType(settings.video)
