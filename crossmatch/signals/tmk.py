"""TMK+PDQF: the whole-video hash GIFCT and TCAP lists share (Meta's Temporal Match Kernel over PDQ-float frames).

Hashing runs the reference implementation (facebook/ThreatExchange ``tmk/cpp``
through the ``tmkpy`` binding, optional extra ``crossmatch[tmk]``) with Debian's
ffmpeg, inside the limited video child of :mod:`crossmatch.media.video`.  Values are
ThreatExchange's ``HASH_TMK`` string (``TMK1FVECPDQF|<base64>``, byte for byte a
``.tmk`` file); see :mod:`crossmatch.signals.tmk_features`.

Matching is the reference two-level decision: level 1 (cosine of the pure-average
features) at least ``tmk.level1_threshold``, then level 2 (the TMK kernel score) at
least the bank's threshold (default ``tmk.level2_threshold``); both default to the
upstream 0.7.  The index answers level 1 (``compare`` is the level-1 score, -1 for
hashes made with other parameters); ``match`` computes level 2 for the bank videos
the index returns, from their stored values, so the index keeps 1 KB per video.

TMK is costly (it decodes the whole video again at 15 fps), so it is *on demand*:
the engine computes it for a query only when the index holds TMK signals (see
``on_demand_types`` in :mod:`crossmatch.hashing`).
"""

from __future__ import annotations

import importlib.util
import shutil
import struct
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Sequence

import numpy as np

from crossmatch.index.brute import BruteForceIndex
from crossmatch.media.video import hash_tmk, video_file
from crossmatch.settings import Settings, TmkSettings, VideoSettings
from crossmatch.signals.base import (BankSignalLookup, Candidate, Content, ContentError, InvalidSignal, Signal,
                                     SignalIndex)
from crossmatch.signals import tmk_features as tf

INSTALL_HINT = ("TMK+PDQF needs the tmkpy package (the reference TMK code): pip install 'crossmatch[tmk]' "
                "(it compiles with swig and a C++ compiler: apt-get install swig g++)")
NOT_COMPARABLE = -1.0  # compare(): level 1 below its threshold, or hashes made with other parameters


def tmkpy_available() -> bool:
    return importlib.util.find_spec("tmkpy") is not None


@dataclass(frozen=True)
class TmkType:
    video: VideoSettings
    settings: TmkSettings
    name: str = "tmk_pdqf"
    content_kinds: frozenset[str] = frozenset({"video"})
    metric: str = "score"
    max_threshold: float = 0.0  # the lowest level-2 threshold the index answers exactly (level 2 is 0..1)
    on_demand: bool = True
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def default_threshold(self) -> float:
        return self.settings.level2_threshold

    @property
    def level1_threshold(self) -> float:
        return self.settings.level1_threshold

    # -- values ------------------------------------------------------------------
    def validate(self, value: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise InvalidSignal("empty TMK+PDQF value")
        data = tf.decode_value(value)
        tf.parse_tmk(data)
        return tf.encode_value(data)

    def features(self, value: str) -> tf.TmkFeatures:
        parse = self._cache.get("parse")
        if parse is None:  # parsed features of recently compared values (a bank value is 350 KB of base64)
            parse = self._cache.setdefault("parse", lru_cache(maxsize=512)(tf.features_of))
        return parse(value)

    def scorer(self) -> tf.Level2Scorer:
        scorer = self._cache.get("scorer")
        if scorer is None:  # 8 MB of cos/sin tables, built on first use
            scorer = self._cache.setdefault("scorer", tf.Level2Scorer())
        return scorer

    # -- hashing -----------------------------------------------------------------
    def available(self) -> bool:
        """Whether bank videos get a TMK hash (hashing.wants): only with tmkpy installed, so a
        machine without the extra still adds videos; a query that needs TMK fails closed instead."""
        return tmkpy_available()

    def hash(self, content: Content) -> list[Signal]:
        if not tmkpy_available():
            raise ContentError(f"{content.item}: {INSTALL_HINT}")
        ffmpeg = self.settings.ffmpeg_path or shutil.which("ffmpeg")
        if not ffmpeg:
            raise ContentError(f"{content.item}: TMK+PDQF needs ffmpeg (apt-get install ffmpeg, or set tmk.ffmpeg_path)")
        with video_file(content, self.video.max_bytes) as path:
            data = hash_tmk(path, content.item, self.video, ffmpeg)
        try:
            features = tf.parse_tmk(data)
        except InvalidSignal as exc:
            raise ContentError(f"{content.item}: the TMK hasher wrote an unusable hash ({exc})") from None
        meta = {"frames": features.frame_count, "duration": round(features.frame_count / tf.FPS, 3)}
        return [Signal(self.name, tf.encode_value(data), None, meta)]

    # -- comparing ---------------------------------------------------------------
    def scores(self, a: Signal, b: Signal) -> tuple[float, float | None]:
        """(level 1, level 2); level 2 is None when level 1 is below its threshold or the hashes differ in make."""
        fa, fb = self.features(a.value), self.features(b.value)
        one = tf.level1(fa, fb)
        if one < self.level1_threshold or fa.compat_key != fb.compat_key:
            return one, None
        return one, float(self.scorer().scores(fa, fb.cos[None], fb.sin[None])[0])

    def compare(self, a: Signal, b: Signal) -> float:
        """The level-1 score (what the index answers); -1 for hashes that cannot be compared."""
        fa, fb = self.features(a.value), self.features(b.value)
        return tf.level1(fa, fb) if fa.compat_key == fb.compat_key else NOT_COMPARABLE

    def examples(self) -> list[Signal]:
        # The third is a noisy copy of the first: the two match, the second matches neither.
        return [Signal(self.name, tf.encode_value(_synthetic_tmk(*seeds)), None, {"frames": 150, "duration": 10.0})
                for seeds in ((1, None), (2, None), (1, 3))]

    def brute_force_index(self) -> SignalIndex:
        return BruteForceIndex(self.compare, "score")

    def fast_index(self) -> SignalIndex | None:
        from crossmatch.index.tmk_index import TmkIndex

        return TmkIndex(self.features)

    def match(self, queries: Sequence[Signal], index: SignalIndex, threshold: float,
              lookup: BankSignalLookup) -> list[Candidate]:
        """Level 1 through the index, then level 2 (``threshold``: the loosest bank's) on what passed."""
        out: dict[int, Candidate] = {}
        for query in queries:
            level1 = {h.signal_id: float(h.score or 0.0) for h in index.query(query, self.level1_threshold)}
            resolved = lookup(sorted(level1))
            ids = [i for i in level1 if i in resolved]
            if not ids:
                continue
            q = self.features(query.value)
            banked = [self.features(resolved[i][1].value) for i in ids]
            level2 = self.scorer().scores(q, np.stack([b.cos for b in banked]), np.stack([b.sin for b in banked]))
            for signal_id, two in zip(ids, level2.tolist()):
                if two < threshold:
                    continue
                evidence = {"level1": round(level1[signal_id], 6), "level2": round(two, 6),
                            "level1_threshold": self.level1_threshold,
                            "query_frames": query.meta.get("frames"), "bank_frames": resolved[signal_id][1].meta.get("frames")}
                prev = out.get(signal_id)
                if prev is None or two > (prev.score or 0.0):
                    out[signal_id] = Candidate((signal_id,), score=round(two, 6), evidence=evidence)
        return list(out.values())


def _synthetic_tmk(seed: int, noise_seed: int | None = None) -> bytes:
    """A valid ``.tmk`` of random frame features (the contract test's examples; no video needed).

    Built as the reference does: cos/sin features unit-normalised then scaled by sqrt(c_j), so a
    hash scores exactly 1.0 with itself."""
    rng = np.random.default_rng(seed)
    periods, m, d = tf.PERIODS, tf.COEFFICIENTS, tf.DIMENSION
    coefficients = (0.5 ** np.arange(m) + 1e-6).astype("<f4")  # any positive, decreasing weights
    pure = rng.normal(size=d).astype("<f4")
    cos = rng.normal(size=(len(periods), m, d))
    sin = rng.normal(size=(len(periods), m, d))
    if noise_seed is not None:
        noise = np.random.default_rng(noise_seed)
        pure += (0.3 * noise.normal(size=d)).astype("<f4")
        cos += 0.3 * noise.normal(size=cos.shape)
        sin += 0.3 * noise.normal(size=sin.shape)
    sin[:, 0, :] = 0.0
    for arr in (cos, sin):
        norms = np.linalg.norm(arr, axis=2, keepdims=True)
        arr /= np.where(norms == 0, 1.0, norms)
        arr *= np.sqrt(coefficients)[None, :, None]
    header = tf.HEADER.pack(b"TMK1", b"FVEC", b"PDQF", tf.FPS, len(periods), m, d, 150)
    return (header + struct.pack(f"<{len(periods)}i", *periods) + coefficients.tobytes() + pure.tobytes()
            + cos.astype("<f4").tobytes() + sin.astype("<f4").tobytes())


def create(settings: Settings) -> TmkType:
    return TmkType(settings.video, settings.tmk)
