"""keypoints: local features (ORB) with geometric verification, a bank-side signal type.

What PDQ cannot see: crops of any side, rotations by any angle, stickers and overlays,
screenshots and picture-in-picture, mirrored copies.  A bank image keeps up to
``bank_keypoints`` spread ORB keypoints (38 bytes each); a query gets its own (and its
mirror image's) in the deep pass only, so the cheap pass never pays for them.  The score
is the number of RANSAC inliers of one similarity transform; the evidence gives that
transform and the matched box in both images.

Not a standard exchange format: exporting these signals is opt-in (docs/exchange.md).
Images too flat for keypoints get a low-quality signal that never matches, with a note,
and PDQ alone decides for them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Sequence

from crossmatch.index.brute import BruteForceIndex
from crossmatch.media.keypoint_settings import KeypointSettings, keypoint_settings
from crossmatch.media.keypoints import KeypointFormatError, Keypoints, all_pairs, detect, verify, work_grey
from crossmatch.settings import ImageSettings, Settings
from crossmatch.signals.base import Candidate, Content, InvalidSignal, Signal, SignalIndex

NAME = "keypoints"


def digest(value: str) -> str:
    """A short stand-in for a keypoints value (20-50 KB) in evidence: equal values, equal digests."""
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class KeypointsType:
    image: ImageSettings
    cfg: KeypointSettings = field(default_factory=KeypointSettings)
    name: str = NAME
    content_kinds: frozenset[str] = frozenset({"image"})
    metric: str = "score"
    max_threshold: float = 6.0  # fewer inliers than this are not verified at all

    @property
    def default_threshold(self) -> float:
        return float(self.cfg.min_inliers)

    @property
    def min_quality(self) -> int:
        # Quality is the keypoint count (capped at 100): fewer than min_keypoints is too flat.
        return self.cfg.min_keypoints

    def validate(self, value: str) -> str:
        try:
            return Keypoints.decode(value.strip()).encode()
        except KeypointFormatError as exc:
            raise InvalidSignal(f"keypoints: {exc}") from None

    # -- hashing --------------------------------------------------------------
    def hash(self, content: Content) -> list[Signal]:
        return []  # bank-side type: a query's keypoints come in the deep pass (hash_deep)

    def hash_bank_extras(self, content: Content) -> list[Signal]:
        if not self.cfg.enabled:
            return []
        grey, scale = self._grey(content)
        return [self._signal(detect(grey, scale, self.cfg.bank_keypoints)[0], {"variant": "original"})]

    def hash_deep(self, content: Content) -> list[Signal]:
        if not self.cfg.enabled or content.kind != "image" or content.data is None:
            return []
        grey, scale = self._grey(content, self.cfg.query_work_side)
        plain, mirrored = detect(grey, scale, self.cfg.query_keypoints, self.cfg.mirrored_keypoints if self.cfg.mirrored else 0)
        signals = [self._signal(plain, {"variant": "original"})]
        if mirrored is not None and signals[0].quality >= self.min_quality:
            signals.append(self._signal(mirrored, {"variant": "mirrored", "query_only": True}))
        return signals

    def _grey(self, content: Content, side: int | None = None):
        from crossmatch.signals.pdq import decoded_image  # one decode per content, shared with PDQ

        return work_grey(decoded_image(content, self.image), side or self.cfg.work_side, self.cfg.min_side)

    def _signal(self, keypoints: Keypoints, meta: dict) -> Signal:
        if len(keypoints) < self.cfg.min_keypoints:
            meta = {**meta, "note": f"only {len(keypoints)} keypoints: too flat for local features; PDQ alone decides"}
        meta["keypoints"] = len(keypoints)
        return Signal(self.name, keypoints.encode(), min(100, len(keypoints)), meta)

    # -- comparing ------------------------------------------------------------
    def verify_pair(self, query: Signal, bank: Signal) -> dict | None:
        """Evidence of a verified match of ``query`` against ``bank``, or None (the brute-force answer)."""
        q, b = Keypoints.decode(query.value), Keypoints.decode(bank.value)
        qi, bi, d = all_pairs(q, b, self.cfg.descriptor_distance)
        verified = verify(q, b, qi, bi, d, int(self.max_threshold), self.cfg)
        return None if verified is None else verified.evidence(q, b)

    def compare(self, a: Signal, b: Signal) -> float:
        evidence = self.verify_pair(a, b)
        return 0.0 if evidence is None else float(evidence["inliers"])

    def examples(self) -> list[Signal]:
        from crossmatch.samples import make_poster

        out = []
        for seed in (1, 2, 3):
            img = make_poster(seed)
            grey, scale = work_grey(img, self.cfg.work_side, self.cfg.min_side)
            out.append(self._signal(detect(grey, scale, self.cfg.bank_keypoints)[0], {"variant": "original"}))
        return out

    def brute_force_index(self) -> SignalIndex:
        return BruteForceIndex(self.compare, "score")

    def fast_index(self) -> SignalIndex:
        from crossmatch.index.keypoint_index import KeypointIndex

        return KeypointIndex(self.cfg)

    def match(self, queries: Sequence[Signal], index: SignalIndex, threshold: float, lookup) -> list[Candidate]:
        """The best verified match per bank signal over the query's signals (original and mirrored)."""
        best: dict[int, Candidate] = {}
        for query in queries:
            if (query.quality or 0) < self.min_quality:
                continue  # too flat: noted on the signal, PDQ decides
            for hit in index.query(query, threshold):
                if hit.score is None or hit.score < threshold:
                    continue
                evidence = hit.evidence
                if "transform" not in evidence:  # the brute-force index returns a score only
                    bank = lookup([hit.signal_id]).get(hit.signal_id)
                    evidence = (self.verify_pair(query, bank[1]) if bank else None) or {}
                candidate = Candidate((hit.signal_id,), score=hit.score, evidence={
                    "query_signal": digest(query.value), "query_variant": query.meta.get("variant", "original"),
                    **evidence})
                prev = best.get(hit.signal_id)
                if prev is None or (candidate.score or 0) > (prev.score or 0):
                    best[hit.signal_id] = candidate
        return list(best.values())


def create(settings: Settings) -> KeypointsType:
    return KeypointsType(settings.image, keypoint_settings(settings))
