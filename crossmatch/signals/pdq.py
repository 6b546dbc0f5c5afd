"""PDQ: Meta's perceptual image hash (256 bits, Hamming distance).

Done well here means: quality is reported (low-quality hashes are flagged,
never silently dropped), flipped and rotated copies are found through dihedral
query hashes, letterbox borders are trimmed, and hostile images are refused
with a clear error by :mod:`crossmatch.media.image`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar, Sequence

import numpy as np
import pdqhash
from PIL import Image

from crossmatch.index.brute import BruteForceIndex
from crossmatch.media.image import caption_band_boxes, content_box, downscale, open_image
from crossmatch.settings import ImageSettings, RegionSettings, Settings
from crossmatch.signals.base import Candidate, Content, InvalidSignal, Signal, SignalIndex, match_each

# pdqhash.compute_dihedral's eight hashes in the reference order (rotate90, ..., flipX, flipY,
# flipPlus1, flipMinus1), named here by what the *upload* is relative to the bank picture,
# which is what a reviewer wants to read (checked in tests/test_pdq_images.py).
DIHEDRAL_VARIANTS = (
    "original",
    "rotated_90_clockwise",
    "rotated_180",
    "rotated_90_counterclockwise",
    "flipped_upside_down",
    "mirrored",
    "transposed",
    "transversed",
)
_HEX64 = re.compile(r"[0-9a-f]{64}")
REGION_SIDE = 512


def bits_to_hex(bits: np.ndarray) -> str:
    """256 hash bits (most significant first) to the 64-hex-char form python-threatexchange uses."""
    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()


def hex_to_bytes(value: str) -> bytes:
    return bytes.fromhex(value)


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def pdq_hash(img: Image.Image) -> tuple[str, int]:
    """PDQ hash and quality (0-100) of an RGB image."""
    bits, quality = pdqhash.compute(np.asarray(img))
    return bits_to_hex(bits), int(quality)


def pdq_dihedral(img: Image.Image) -> list[tuple[str, str, int]]:
    """(variant name, hash, quality) for all eight rotations and flips, in one DCT pass."""
    hashes, quality = pdqhash.compute_dihedral(np.asarray(img))
    return [(name, bits_to_hex(bits), int(quality)) for name, bits in zip(DIHEDRAL_VARIANTS, hashes)]


def decoded_image(content: Content, settings: ImageSettings) -> Image.Image:
    """The content's image, decoded once at hashing size (full size by default) and cached on the content."""
    cached = content.derived.get("image")
    if cached is None:
        assert content.data is not None
        size = settings.pdq_decode_size or None
        cached = open_image(content.data, content.item, settings, max_side=size)
        if size:
            cached = downscale(cached, size)
        content.derived["image"] = cached
    return cached


def region_image(content: Content, settings: ImageSettings) -> tuple[Image.Image, float]:
    """A copy at most REGION_SIDE pixels wide and its scale back to the decoded image.

    Region and caption-band hashes were tuned at this size and are never exchanged,
    so they need not pay for a full-size hash; their boxes are mapped back.
    """
    cached = content.derived.get("image_regions")
    if cached is None:
        img = decoded_image(content, settings)
        small = downscale(img, REGION_SIDE)
        cached = (small, img.width / small.width)
        content.derived["image_regions"] = cached
    return cached


def scaled_box(box: Sequence[int], scale: float) -> list[int]:
    """An (x, y, w, h) box of the region copy in the decoded image's pixels."""
    return [round(v * scale) for v in box]


def corners(box: Sequence[int]) -> list[int]:
    """(x, y, w, h) -> [x0, y0, x1, y1], the form evidence boxes take."""
    x, y, w, h = box
    return [x, y, x + w, y + h]


@dataclass(frozen=True)
class PdqType:
    settings: ImageSettings
    regions: RegionSettings = field(default_factory=RegionSettings)
    name: str = "pdq"
    content_kinds: frozenset[str] = frozenset({"image"})
    metric: str = "distance"
    default_threshold: float = 31.0  # PDQ's published operating point
    max_threshold: float = 64.0
    hex_length: ClassVar[int] = 64  # validate_many checks whole blocks of bank hashes at once

    @property
    def min_quality(self) -> int:
        return self.settings.pdq_min_quality

    def validate(self, value: str) -> str:
        value = value.strip().lower()
        if not _HEX64.fullmatch(value):
            raise InvalidSignal(f"pdq must be 64 hex characters (256 bits), got {value[:80]!r}")
        return value

    def hash(self, content: Content) -> list[Signal]:
        """The whole image (first: the file's own, reference-exact hash), its border-trimmed form if
        different, and (query-only) dihedral variants, each named in ``meta``."""
        img = decoded_image(content, self.settings)
        whole = [0, 0, img.width, img.height]
        signals: list[Signal] = []
        if self.settings.dihedral:
            variants = pdq_dihedral(img)
            value, quality = variants[0][1], variants[0][2]
        else:
            variants = []
            value, quality = pdq_hash(img)
        # "reference": this is the hash partners compute for the same file (exchanged, served on /h/hash).
        signals.append(Signal(self.name, value, quality, {"variant": "original", "reference": True, "box": whole}))
        if self.settings.trim_borders:
            left, top, right, bottom = content_box(img)
            if (right - left, bottom - top) != img.size:
                t_value, t_quality = pdq_hash(img.crop((left, top, right, bottom)))
                if t_value != value:
                    box = [left, top, right - left, bottom - top]
                    signals.append(Signal(self.name, t_value, t_quality, {"variant": "trimmed", "box": box}))
        for name, v_value, v_quality in variants[1:]:
            # Query-only: a bank stores the upright image; a flipped upload matches through these.
            signals.append(Signal(self.name, v_value, v_quality, {"variant": name, "query_only": True, "box": whole}))
        return signals

    def hash_deep(self, content: Content) -> list[Signal]:
        """Region crops of the query (the picture inside a screenshot or under a caption band,
        windows that miss an overlay), matched against the bank's whole-image hashes."""
        if content.kind != "image" or content.data is None:
            return []
        img, scale = region_image(content, self.settings)
        signals = []
        for side, (left, top, right, bottom) in caption_band_boxes(img):
            value, quality = pdq_hash(img.crop((left, top, right, bottom)))
            if quality >= self.min_quality:
                box = scaled_box([left, top, right - left, bottom - top], scale)
                signals.append(Signal(self.name, value, quality, {"variant": "caption-removed", "band": side, "box": box}))
        return signals + self._regions(content, "query")

    def hash_bank_extras(self, content: Content) -> list[Signal]:
        """Centre crops and windows of a bank image, so a cropped or overlaid upload
        matches in the cheap pass."""
        return self._regions(content, "bank")

    def _regions(self, content: Content, side: str) -> list[Signal]:
        from crossmatch.media.regions import region_signals  # OpenCV-free, but only needed here

        img, scale = region_image(content, self.settings)
        signals = region_signals(img, self.regions, side=side, min_quality=self.min_quality)
        for signal in signals:
            signal.meta["box"] = scaled_box(signal.meta["box"], scale)
        return signals

    def compare(self, a: Signal, b: Signal) -> float:
        return float(hamming(a.value, b.value))

    def examples(self) -> list[Signal]:
        return [
            Signal(self.name, "f" * 64),
            Signal(self.name, "0" * 64),
            Signal(self.name, "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22", 100),
        ]

    def brute_force_index(self) -> SignalIndex:
        return BruteForceIndex(self.compare, "distance")

    def fast_index(self) -> SignalIndex:
        from crossmatch.index.pdq_fast import PdqIndex  # numpy-heavy; only loaded when an index is built

        return PdqIndex()

    def match(self, queries: Sequence[Signal], index: SignalIndex, threshold: float, lookup) -> list[Candidate]:
        # Low-quality hashes (flat or tiny images) collide with everything: report them, never
        # match on them, whether they come with the query or were stored in a bank.
        usable = [q for q in queries if self._usable(q)]
        candidates = match_each(self, usable, index, threshold)
        if not candidates:
            return candidates
        bank = lookup([sid for c in candidates for sid in c.signal_ids])
        return [with_boxes(c, bank[c.signal_ids[0]][1]) for c in candidates
                if c.signal_ids[0] in bank and self._usable(bank[c.signal_ids[0]][1])]

    def _usable(self, signal: Signal) -> bool:
        return signal.quality is None or signal.quality >= self.min_quality


def with_boxes(candidate: Candidate, bank_signal: Signal) -> Candidate:
    """Evidence boxes as [x0, y0, x1, y1]: which part of the query (``query_box``) and, for a
    bank region, which part of the bank picture (``bank_box``) the hashes describe."""
    evidence = dict(candidate.evidence)
    query_box = evidence.get("query_meta", {}).get("box")
    if query_box:
        evidence["query_box"] = corners(query_box)
    if bank_signal.meta.get("box") and bank_signal.meta.get("variant") != "original":
        evidence["bank_box"] = corners(bank_signal.meta["box"])
        evidence["bank_region"] = bank_signal.meta.get("region", bank_signal.meta.get("variant"))
    return Candidate(candidate.signal_ids, candidate.distance, candidate.score, evidence)


def create(settings: Settings) -> PdqType:
    return PdqType(settings.image, settings.regions)
