"""TMK+PDQF feature vectors: the reference ``.tmk`` byte layout, its string form, and the two scores.

A ``.tmk`` file (ThreatExchange ``tmk/cpp/io/tmkio*``, all numbers little-endian) is::

    "TMK1" "FVEC" "PDQF"  int32 fps  int32 P  int32 m  int32 d  int32 frame_count   (32-byte header)
    int32[P] periods, float32[m] Fourier coefficients, float32[d] pure-average feature,
    float32[P][m][d] cosine features, float32[P][m][d] sine features

(P=4 periods, m=32 coefficients, d=256 for PDQF: 263,344 bytes).  The canonical string
form is ThreatExchange's ``HASH_TMK`` indicator encoding (te-tag-query-java ``Utils``):
the 12 ASCII magic bytes, ``|``, then base64 of the rest.  It round-trips the file byte
for byte.

The scores are a numpy port of ``TMKFeatureVectors::computeLevel1Score`` /
``computeLevel2Score`` (tmkfv.cpp): the reference binding (tmkpy) only scores ``.tmk``
files on disk one pair at a time, while matching must score one query against many bank
candidates in memory.  The port is checked against the reference level-2 scores in
tests/test_tmk.py and eval/tmk.py.
"""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from crossmatch.signals.base import InvalidSignal

MAGIC = b"TMK1FVECPDQF"  # project, file type (feature vectors), frame algorithm (PDQ float)
HEADER = struct.Struct("<4s4s4siiiii")
# What every TMK+PDQF hasher writes (tmk-hash-video, tmkpy): other shapes cannot be compared with ours.
FPS = 15
PERIODS = (2731, 4391, 9767, 14653)
COEFFICIENTS = 32
DIMENSION = 256
FILE_BYTES = HEADER.size + 4 * len(PERIODS) + 4 * COEFFICIENTS + 4 * DIMENSION + 2 * 4 * len(PERIODS) * COEFFICIENTS * DIMENSION
_B64_PREFIX = base64.b64encode(MAGIC).decode()  # a whole file base64-encoded starts like this


@dataclass(frozen=True)
class TmkFeatures:
    fps: int
    frame_count: int
    periods: np.ndarray  # int32 (P,)
    coefficients: np.ndarray  # float32 (m,)
    pure_average: np.ndarray  # float32 (d,)
    cos: np.ndarray  # float32 (P, m, d)
    sin: np.ndarray  # float32 (P, m, d)

    @property
    def normalizer(self) -> float:
        """The level-2 normaliser (a video scores 1.0 with itself): c0 + 2 * sum(c1..)."""
        c = self.coefficients.astype(np.float32)
        return float(c[0] + np.float32(2.0) * c[1:].sum(dtype=np.float32))

    @property
    def compat_key(self) -> bytes:
        """Two hashes are comparable only with equal fps, periods and coefficients (areCompatible)."""
        return struct.pack("<i", self.fps) + self.periods.tobytes() + self.coefficients.tobytes()

    @cached_property
    def unit_average(self) -> np.ndarray:
        return (self.pure_average / np.linalg.norm(self.pure_average)).astype(np.float32)


def parse_tmk(data: bytes) -> TmkFeatures:
    """The features of a ``.tmk`` file's bytes; :class:`InvalidSignal` with the reason otherwise."""
    if len(data) < HEADER.size:
        raise InvalidSignal(f"TMK hash is {len(data)} bytes, shorter than its {HEADER.size}-byte header")
    project, kind, algo, fps, periods_n, coeffs_n, dim, count = HEADER.unpack_from(data)
    if project + kind != MAGIC[:8]:
        raise InvalidSignal(f"not a TMK feature-vector file (magic {project + kind!r}, expected b'TMK1FVEC')")
    if algo != MAGIC[8:]:
        raise InvalidSignal(f"TMK frame algorithm is {algo!r}; only PDQF (TMK+PDQF) is supported")
    if (fps, periods_n, coeffs_n, dim) != (FPS, len(PERIODS), COEFFICIENTS, DIMENSION):
        raise InvalidSignal(f"TMK+PDQF hash has fps={fps}, periods={periods_n}, coefficients={coeffs_n}, "
                            f"dimension={dim}; expected {FPS}, {len(PERIODS)}, {COEFFICIENTS}, {DIMENSION}")
    if len(data) != FILE_BYTES:
        raise InvalidSignal(f"TMK+PDQF hash is {len(data)} bytes; a complete one is {FILE_BYTES} (truncated or padded)")
    if count < 1:
        raise InvalidSignal(f"TMK+PDQF hash covers {count} frames: an empty video")
    at = HEADER.size
    periods = np.frombuffer(data, "<i4", len(PERIODS), at).astype(np.int32)
    at += 4 * len(PERIODS)
    if tuple(int(p) for p in periods) != PERIODS:
        raise InvalidSignal(f"TMK+PDQF periods are {periods.tolist()}; expected {list(PERIODS)}")
    floats = np.frombuffer(data, "<f4", offset=at).astype(np.float32)
    if not np.isfinite(floats).all():
        raise InvalidSignal("TMK+PDQF hash holds NaN or infinite numbers")
    coefficients, rest = floats[:COEFFICIENTS], floats[COEFFICIENTS:]
    if (coefficients <= 0).any():
        raise InvalidSignal("TMK+PDQF Fourier coefficients must be positive")
    pure, rest = rest[:DIMENSION], rest[DIMENSION:]
    if not np.any(pure):
        raise InvalidSignal("TMK+PDQF pure-average feature is all zeros")
    shape = (len(PERIODS), COEFFICIENTS, DIMENSION)
    half = rest.size // 2
    return TmkFeatures(fps, count, periods, coefficients, pure, rest[:half].reshape(shape), rest[half:].reshape(shape))


def decode_value(value: str) -> bytes:
    """The ``.tmk`` bytes of a string value: ThreatExchange's ``TMK1FVECPDQF|<base64>``, or the
    whole file in base64 (as some list exports carry it)."""
    text = "".join(value.split())  # line-wrapped base64 in a CSV cell
    if text[12:13] == "|" and text[:12].isascii():  # the header's 12 magic bytes as text (checked by parse_tmk)
        head, b64 = text[:12].encode(), text[13:]
    elif text.startswith(_B64_PREFIX[:6]):  # base64 of b"TMK1..."
        head, b64 = b"", text
    else:
        raise InvalidSignal(f"TMK+PDQF values start with 'TMK1FVECPDQF|' (ThreatExchange HASH_TMK) or are a "
                            f"base64 .tmk file; got {value[:40]!r}")
    try:
        return head + base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSignal(f"TMK+PDQF value is not valid base64 after the header ({exc})") from None


def encode_value(data: bytes) -> str:
    """ThreatExchange's HASH_TMK string for ``.tmk`` bytes."""
    return data[:len(MAGIC)].decode("latin-1") + "|" + base64.b64encode(data[len(MAGIC):]).decode()


def features_of(value: str) -> TmkFeatures:
    return parse_tmk(decode_value(value))


def level1(a: TmkFeatures, b: TmkFeatures) -> float:
    """Cosine similarity of the pure-average features (-1..1)."""
    return float(np.dot(a.unit_average, b.unit_average))


class Level2Scorer:
    """The TMK kernel score of one query against many candidates at once.

    For each period T the reference evaluates, at every offset k in 0..T-1,
    K(k) = cc[0] + sum_j cos(2 pi j k / T) (cc[j] + ss[j]) + sin(2 pi j k / T) (sc[j] - cs[j]),
    where cc, ss, sc, cs are dot products of the two videos' cos/sin features; the score is
    the largest K over offsets and periods over the normaliser.  Here the cos/sin tables are
    built once and K for all offsets and candidates is two matrix products per period.
    """

    def __init__(self, periods: tuple[int, ...] = PERIODS, coefficients: int = COEFFICIENTS) -> None:
        j = np.arange(coefficients, dtype=np.float64)
        self._blas = None
        self._tables = []
        for period in periods:
            angle = 2.0 * np.pi * np.outer(np.arange(period, dtype=np.float64), j) / period
            self._tables.append((np.cos(angle).astype(np.float32), np.sin(angle).astype(np.float32)))

    def scores(self, query: TmkFeatures, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
        """Level-2 scores of ``query`` against candidates whose features are ``cos``/``sin`` (n, P, m, d)."""
        if len(cos) == 0:
            return np.zeros(0, dtype=np.float32)
        with self._one_blas_thread():
            return self._scores(query, cos, sin)

    def _one_blas_thread(self):
        # Products of a few candidates are tiny: BLAS threads cost more to wake than they save
        # (measured 36 ms vs under 1 ms per query on 2 busy cores), as in crossmatch/index/vectors.py.
        if self._blas is None:
            from threadpoolctl import ThreadpoolController

            self._blas = ThreadpoolController()
        return self._blas.limit(limits=1, user_api="blas")

    def _scores(self, query: TmkFeatures, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
        cc = np.einsum("pmd,npmd->npm", query.cos, cos)
        ss = np.einsum("pmd,npmd->npm", query.sin, sin)
        sc = np.einsum("pmd,npmd->npm", query.sin, cos)
        cs = np.einsum("pmd,npmd->npm", query.cos, sin)
        even, odd = cc + ss, sc - cs
        even[:, :, 0] = cc[:, :, 0]  # the j=0 term is the cos-cos dot alone (sine features are 0 there)
        odd[:, :, 0] = 0.0
        best = np.full(len(cos), -np.inf, dtype=np.float32)
        for p, (cos_t, sin_t) in enumerate(self._tables):
            kernel = cos_t @ even[:, p, :].T + sin_t @ odd[:, p, :].T  # (offsets, n)
            best = np.maximum(best, kernel.max(axis=0))
        return best / np.float32(query.normalizer)
