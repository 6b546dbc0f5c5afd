"""Image regions worth a PDQ hash of their own, for edits that defeat whole-image PDQ.

Measured on AugLy's outputs of one photo (eval/images_hard.py), whole-image PDQ
is 56-122 bits away for four edits; each needs a different region:

* screenshot of a post / picture pasted on a page: the embedded picture is the
  largest busy rectangle on a flat page ("embedded"); its box is tightened to
  where the busy area fills the edges and its own flat bars are peeled off.
* meme caption band: the same detector finds the picture under the band.
* emoji / sticker overlays: fixed two-thirds windows ("grid:top", ...) hashed on
  both sides, so one window of the query that misses the sticker equals the
  bank's same window.
* crops: a crop of a bank picture is matched by centre crops of the *bank*
  picture ("centre:50", "centre:70"), which only the bank side can store.

:func:`candidate_regions` is the query side (the PDQ type's ``hash_deep``);
:func:`bank_regions` is the bank side (extra signals stored with a bank image).
Both work on a copy at most ``WORK_SIDE`` pixels wide, return at most
``max_regions`` crops of the caller's image, and cost a few milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from crossmatch.settings import RegionSettings

WORK_SIDE = 512
BUSY_STD = 6.0  # local grey-level std above which a pixel is picture, not flat page
FLAT_STD = 10.0  # a row/column of a region this uniform is a bar, not picture
GRID = {"grid:top": (0, 0, 1, 2 / 3), "grid:bottom": (0, 1 / 3, 1, 1),
        "grid:left": (0, 0, 2 / 3, 1), "grid:right": (1 / 3, 0, 1, 1)}
CENTRES = {"centre:50": 0.5, "centre:70": 0.7}


@dataclass(frozen=True)
class Region:
    box: tuple[int, int, int, int]  # x, y, w, h in the caller's image pixels
    image: Image.Image
    reason: str


def _config(settings: Any) -> RegionSettings:
    # Callers may pass the whole Settings or just its ``regions`` part.
    return getattr(settings, "regions", settings)


def _work_grey(img: Image.Image) -> tuple[np.ndarray, float]:
    small = img.convert("L")
    if max(small.size) > WORK_SIDE:
        small = small.copy()
        small.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BILINEAR)
    return np.asarray(small, dtype=np.float32), img.width / small.width


def busy_masks(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels in textured neighbourhoods: raw, and with thin structures (text lines, rules) opened away."""
    import cv2  # opencv-python-headless, the 'media' extra

    mean = cv2.blur(grey, (7, 7))
    sq = cv2.blur(grey * grey, (7, 7))
    raw = (np.sqrt(np.maximum(sq - mean * mean, 0)) > BUSY_STD).astype(np.uint8)
    k = max(3, grey.shape[1] // 60)
    kernel = np.ones((k, k), np.uint8)
    blobs = cv2.morphologyEx(raw, cv2.MORPH_OPEN, kernel)
    return raw, cv2.morphologyEx(blobs, cv2.MORPH_CLOSE, kernel)


def tighten(mask: np.ndarray, box: tuple[int, int, int, int], fill: float = 0.6) -> tuple[int, int, int, int]:
    """Shrink (x0, y0, x1, y1) until each edge line is mostly busy (drops a caption or header glued on)."""
    x0, y0, x1, y1 = box
    changed = True
    while changed and x1 - x0 > 8 and y1 - y0 > 8:
        changed = False
        if mask[y0, x0:x1].mean() < fill:
            y0, changed = y0 + 1, True
        if mask[y1 - 1, x0:x1].mean() < fill:
            y1, changed = y1 - 1, True
        if mask[y0:y1, x0].mean() < fill:
            x0, changed = x0 + 1, True
        if mask[y0:y1, x1 - 1].mean() < fill:
            x1, changed = x1 - 1, True
    return x0, y0, x1, y1


def _flat(line: np.ndarray) -> bool:
    # Nearly all pixels at one level; a few blended pixels where a bar meets the picture are allowed.
    return float(np.mean(np.abs(line - np.median(line)) < FLAT_STD)) >= 0.95


def peel(grey: np.ndarray, box: tuple[int, int, int, int], max_frac: float = 0.4) -> tuple[int, int, int, int]:
    """Remove uniform edge rows/columns of any colour, one side at a time (nested letterbox bars)."""
    x0, y0, x1, y1 = box
    h, w = y1 - y0, x1 - x0
    changed = True
    while changed and x1 - x0 > 8 and y1 - y0 > 8:
        changed = False
        if y0 - box[1] < h * max_frac and _flat(grey[y0, x0:x1]):
            y0, changed = y0 + 1, True
        if box[3] - y1 < h * max_frac and _flat(grey[y1 - 1, x0:x1]):
            y1, changed = y1 - 1, True
        if x0 - box[0] < w * max_frac and _flat(grey[y0:y1, x0]):
            x0, changed = x0 + 1, True
        if box[2] - x1 < w * max_frac and _flat(grey[y0:y1, x1 - 1]):
            x1, changed = x1 - 1, True
    return x0, y0, x1, y1


def embedded_boxes(grey: np.ndarray, min_area: float, limit: int) -> list[tuple[int, int, int, int]]:
    """Boxes (x0, y0, x1, y1) of the largest busy rectangles, in work-copy pixels."""
    import cv2

    raw, blobs = busy_masks(grey)
    count, _, stats, _ = cv2.connectedComponentsWithStats(blobs, connectivity=8)
    h, w = grey.shape
    boxes = []
    for i in np.argsort(-stats[1:, cv2.CC_STAT_AREA])[: limit * 3] + 1:
        x, y, bw, bh = (int(v) for v in stats[i, :4])
        if bw * bh < min_area * w * h:
            break
        blob = (x, y, x + bw, y + bh)
        # Tightened suits a picture glued to a header (screenshots); as found suits pictures with
        # flat patches of their own (sky, walls) that tightening would eat into.
        for box in (peel(grey, tighten(raw, blob)), peel(grey, blob)):
            bw, bh = box[2] - box[0], box[3] - box[1]
            if bw * bh < min_area * w * h or bw * bh > 0.97 * w * h:
                continue  # too small once tightened, or just the whole image again
            if min(bw, bh) < 0.2 * max(bw, bh):
                continue  # a strip (toolbar, text column) is not a picture
            if all(_iou(box, b) < 0.8 for b in boxes):
                boxes.append(box)
        if len(boxes) >= limit:
            break
    return boxes[:limit]


def _iou(a, b) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _crop(img: Image.Image, box: tuple[int, int, int, int], scale: float, reason: str) -> Region:
    x0, y0, x1, y1 = (round(v * scale) for v in box)
    x1, y1 = min(x1, img.width), min(y1, img.height)
    return Region((x0, y0, x1 - x0, y1 - y0), img.crop((x0, y0, x1, y1)), reason)


def _fraction_crop(img: Image.Image, frac: tuple[float, float, float, float], reason: str) -> Region:
    w, h = img.size
    box = (round(frac[0] * w), round(frac[1] * h), round(frac[2] * w), round(frac[3] * h))
    return Region((box[0], box[1], box[2] - box[0], box[3] - box[1]), img.crop(box), reason)


def grid_regions(img: Image.Image) -> list[Region]:
    return [_fraction_crop(img, frac, reason) for reason, frac in GRID.items()]


def candidate_regions(img: Image.Image, settings: Any) -> list[Region]:
    """Query-side regions: embedded pictures first (largest first), then the overlay grid windows."""
    cfg = _config(settings)
    if not cfg.enabled or min(img.size) < 32:
        return []
    grey, scale = _work_grey(img)
    out = [_crop(img, box, scale, "embedded") for box in embedded_boxes(grey, cfg.min_area, max(1, cfg.max_regions - 4))]
    out += grid_regions(img)
    return out[: cfg.max_regions]


def bank_regions(img: Image.Image, settings: Any) -> list[Region]:
    """Bank-side regions: centre crops (so a crop of this picture matches) and the overlay grid windows."""
    cfg = _config(settings)
    if not cfg.enabled or min(img.size) < 32:
        return []
    out = []
    for reason, keep in CENTRES.items():
        margin = (1 - keep) / 2
        out.append(_fraction_crop(img, (margin, margin, 1 - margin, 1 - margin), reason))
    return (out + grid_regions(img))[: cfg.max_regions]


def region_signals(img: Image.Image, settings: Any, side: str = "query", min_quality: int = 50) -> list:
    """PDQ signals for the regions of ``img``: what the pdq type's ``hash_deep`` (side="query") or its
    bank-item hashing (side="bank") adds.  Low-quality crops (flat areas) are left out; bank-side
    signals are marked ``bank_only`` so a query never pays for them in its cheap pass.
    """
    from crossmatch.signals.base import Signal
    from crossmatch.signals.pdq import pdq_hash  # the pdq type imports this module lazily too

    regions = candidate_regions(img, settings) if side == "query" else bank_regions(img, settings)
    out = []
    for region in regions:
        value, quality = pdq_hash(region.image)
        if quality < min_quality:
            continue
        meta: dict[str, Any] = {"variant": "region", "region": region.reason, "box": list(region.box)}
        if side == "bank":
            meta["bank_only"] = True
        out.append(Signal("pdq", value, quality, meta))
    return out
