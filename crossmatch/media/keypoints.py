"""Local features of an image: ORB keypoints, their compact form, and geometric verification.

ORB (OpenCV) gives 256-bit binary descriptors that survive rotation by any angle,
scale changes within its pyramid and moderate blur and re-encoding.  A match is a
set of descriptor correspondences that one similarity transform (rotation,
uniform scale, translation) explains, found by RANSAC; the transform says where
the bank picture sits in the query, which is what finds crops, screenshots,
picture-in-picture and stickered copies, and what the evidence shows.

Keypoints are stored compactly (38 bytes each: position, angle, octave, descriptor).
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
from dataclasses import dataclass

import numpy as np
from PIL import Image

from crossmatch.media.keypoint_settings import KeypointSettings

MAGIC = b"KP"
VERSION = 1
_HEADER = struct.Struct("<2sBBHHHf")  # magic, version, flags, n, work width, work height, scale to source
_XY_UNIT = 4.0  # positions are stored in quarter pixels of the work image
FLAG_MIRRORED = 1
DESCRIPTOR_BYTES = 32


class KeypointFormatError(ValueError):
    pass


@dataclass(frozen=True)
class Keypoints:
    """Keypoints of one image (or of its mirror image), in work-image pixels.

    ``scale`` maps work pixels back to the source image's pixels.
    """

    xy: np.ndarray  # (n, 2) float32
    angle: np.ndarray  # (n,) uint8, 0-255 for 0-360 degrees
    octave: np.ndarray  # (n,) uint8
    descriptors: np.ndarray  # (n, 32) uint8
    width: int
    height: int
    scale: float
    mirrored: bool = False

    def __len__(self) -> int:
        return len(self.xy)

    def encode(self) -> str:
        n = len(self)
        header = _HEADER.pack(MAGIC, VERSION, FLAG_MIRRORED if self.mirrored else 0, n, self.width, self.height, self.scale)
        xy = np.round(self.xy * _XY_UNIT).astype("<u2")
        body = xy.tobytes() + self.angle.astype(np.uint8).tobytes() + self.octave.astype(np.uint8).tobytes()
        return base64.b64encode(header + body + np.ascontiguousarray(self.descriptors, np.uint8).tobytes()).decode()

    @classmethod
    def decode(cls, value: str) -> "Keypoints":
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise KeypointFormatError("keypoints must be base64") from None
        if len(raw) < _HEADER.size:
            raise KeypointFormatError("keypoints value is too short for its header")
        magic, version, flags, n, width, height, scale = _HEADER.unpack_from(raw)
        if magic != MAGIC or version != VERSION:
            raise KeypointFormatError(f"not a crossmatch keypoints value (magic {magic!r}, version {version})")
        if len(raw) != _HEADER.size + n * (6 + DESCRIPTOR_BYTES):
            raise KeypointFormatError(f"keypoints value holds {len(raw)} bytes, not what {n} keypoints take")
        if not (width and height and math.isfinite(scale) and scale > 0):
            raise KeypointFormatError("keypoints value has an empty frame or a bad scale")
        at = _HEADER.size
        xy = np.frombuffer(raw, "<u2", 2 * n, at).reshape(n, 2).astype(np.float32) / _XY_UNIT
        at += 4 * n
        angle = np.frombuffer(raw, np.uint8, n, at)
        octave = np.frombuffer(raw, np.uint8, n, at + n)
        descriptors = np.frombuffer(raw, np.uint8, n * DESCRIPTOR_BYTES, at + 2 * n).reshape(n, DESCRIPTOR_BYTES)
        return cls(xy, angle, octave, descriptors, width, height, float(scale), bool(flags & FLAG_MIRRORED))

    def source_box(self, box: tuple[float, float, float, float]) -> list[int]:
        """A work-image box (x0, y0, x1, y1) in the source image's pixels, undoing the mirror."""
        x0, y0, x1, y1 = box
        if self.mirrored:
            x0, x1 = self.width - x1, self.width - x0
        return [int(round(v * self.scale)) for v in (x0, y0, x1, y1)]


def work_grey(img: Image.Image, work_side: int, min_side: int) -> tuple[np.ndarray, float]:
    """The grey image ORB runs on and the scale back to ``img``'s pixels."""
    import cv2  # opencv-python-headless, the 'media' extra

    grey = np.asarray(img.convert("L"))
    h, w = grey.shape
    side = max(w, h)
    target = work_side if side > work_side else (min_side if side < min_side else side)
    if target != side:
        size = (max(1, round(w * target / side)), max(1, round(h * target / side)))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA if target < side else cv2.INTER_CUBIC)
    return grey, w / grey.shape[1]


def _orb(limit: int):
    import cv2

    return cv2.ORB_create(nfeatures=limit, scaleFactor=1.2, nlevels=8, edgeThreshold=19, patchSize=31, fastThreshold=12)


def _keypoints(chosen, descriptors, w: int, h: int, scale: float, mirrored: bool) -> Keypoints:
    import cv2

    if descriptors is None or not chosen:
        descriptors, chosen = np.zeros((0, DESCRIPTOR_BYTES), np.uint8), []
    xy = cv2.KeyPoint_convert(chosen).astype(np.float32).reshape(-1, 2) if chosen else np.zeros((0, 2), np.float32)
    angle = np.array([int(k.angle * 256 / 360) % 256 for k in chosen], np.uint8)
    octave = np.array([min(k.octave, 255) for k in chosen], np.uint8)
    return Keypoints(xy, angle, octave, descriptors, w, h, scale, mirrored)


def detect(grey: np.ndarray, scale: float, limit: int, mirror_limit: int = 0) -> tuple[Keypoints, Keypoints | None]:
    """Up to ``limit`` ORB keypoints spread over the image (strongest per grid cell first) and,
    with ``mirror_limit``, the descriptors of the mirror image at the strongest of them.

    The mirror image needs no second detection: FAST corners and their scores are the same
    mirrored, and ORB's intensity-centroid angle becomes 180 degrees minus the angle.
    """
    import cv2

    h, w = grey.shape
    orb = _orb(limit * 3)  # three candidates per kept keypoint: enough choice for the spread
    found = orb.detect(grey, None)
    chosen = spread(found, w, h, limit)
    chosen, descriptors = orb.compute(grey, chosen)
    plain = _keypoints(chosen, descriptors, w, h, scale, False)
    if not mirror_limit:
        return plain, None
    strongest = sorted(chosen, key=lambda k: -k.response)[:mirror_limit]
    flipped = [cv2.KeyPoint(w - 1 - k.pt[0], k.pt[1], k.size, (180.0 - k.angle) % 360.0, k.response, k.octave)
               for k in strongest]
    flipped, descriptors = orb.compute(np.ascontiguousarray(grey[:, ::-1]), flipped)
    return plain, _keypoints(flipped, descriptors, w, h, scale, True)


def spread(found, width: int, height: int, limit: int, cells: int = 8):
    """Keep ``limit`` keypoints, taking the strongest of each grid cell in turn so texture-rich
    corners cannot crowd out the rest of the picture (a crop must keep enough of them)."""
    if len(found) <= limit:
        return list(found)
    import cv2

    pts = cv2.KeyPoint_convert(found)
    response = np.array([k.response for k in found], np.float32)
    cell = (np.minimum(cells - 1, (pts[:, 0] * cells / width).astype(int)) * cells
            + np.minimum(cells - 1, (pts[:, 1] * cells / height).astype(int)))
    order = np.lexsort((-response, cell))  # by cell, strongest first within a cell
    starts = np.searchsorted(cell[order], np.arange(cells * cells))
    rank = np.empty(len(found), np.int64)
    rank[order] = np.arange(len(found)) - starts[cell[order]]
    chosen = np.lexsort((-response, rank))[:limit]  # every cell's best, then every cell's second, ...
    return [found[i] for i in chosen]


@dataclass(frozen=True)
class Verified:
    """A geometrically verified match of a query's keypoints to a bank image's."""

    inliers: int
    matrix: np.ndarray  # 2x3, bank work pixels -> query work pixels
    bank_inlier_box: tuple[float, float, float, float]  # bounding box of the bank keypoints that agree

    def evidence(self, query: Keypoints, bank: Keypoints) -> dict:
        a, b = self.matrix[0, 0], self.matrix[1, 0]
        scale = math.hypot(a, b) * query.scale / bank.scale  # source pixels per source pixel
        rotation = math.degrees(math.atan2(b, a))
        if query.mirrored:
            rotation = -rotation  # the mirror is undone in the query frame, so the angle turns the other way
        # query_box: where the bank picture lies in the query (its frame through the transform);
        # bank_box: the part of the bank picture whose keypoints agree.
        query_box = _clip(_project(self.matrix, (0, 0, bank.width, bank.height)), query.width, query.height)
        bank_box = _clip(self.bank_inlier_box, bank.width, bank.height)
        return {
            "inliers": self.inliers,
            "transform": {"scale": round(scale, 3), "rotation": round(((rotation + 180) % 360) - 180, 1), "mirrored": query.mirrored},
            "query_box": query.source_box(query_box),
            "bank_box": bank.source_box(bank_box),
        }


def _project(matrix: np.ndarray, box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = box
    pts = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], np.float64) @ matrix.T
    return float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())


def _clip(box: tuple[float, float, float, float], width: int, height: int) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = box
    return max(0.0, x0), max(0.0, y0), min(float(width), x1), min(float(height), y1)


def best_pairs(query_rows: np.ndarray, bank_rows: np.ndarray, distances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one correspondences: each query keypoint's closest bank keypoint, then each bank
    keypoint's closest query keypoint (ties to the lower index, so every index agrees)."""
    if len(query_rows) == 0:
        return query_rows, bank_rows
    order = np.lexsort((bank_rows, query_rows, distances))
    q, b = query_rows[order], bank_rows[order]
    _, first_q = np.unique(q, return_index=True)
    keep = np.sort(first_q)
    q, b = q[keep], b[keep]
    _, first_b = np.unique(b, return_index=True)
    keep = np.sort(first_b)
    return q[keep], b[keep]


def verify(query: Keypoints, bank: Keypoints, query_rows: np.ndarray, bank_rows: np.ndarray, distances: np.ndarray,
           min_inliers: int, cfg: KeypointSettings) -> Verified | None:
    """RANSAC on a similarity transform over the correspondences; None unless enough inliers agree
    and span at least ``cfg.min_matched_area`` of the bank picture."""
    import cv2

    q, b = best_pairs(np.asarray(query_rows), np.asarray(bank_rows), np.asarray(distances))
    if len(q) < min_inliers:
        return None
    src = bank.xy[b].astype(np.float32)
    dst = query.xy[q].astype(np.float32)
    matrix, mask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=cfg.reprojection_px,
                                               maxIters=2000, confidence=0.995, refineIters=10)
    if matrix is None or mask is None:
        return None
    scale = math.hypot(matrix[0, 0], matrix[1, 0])
    if not (cfg.min_scale <= scale <= cfg.max_scale):
        return None
    agree = src[mask.ravel() == 1]
    # Distinct positions only: ORB finds one corner at several pyramid levels.
    inliers = len({(int(x), int(y)) for x, y in np.round(agree / 2)})
    if inliers < min_inliers:
        return None
    box = (float(agree[:, 0].min()), float(agree[:, 1].min()), float(agree[:, 0].max()), float(agree[:, 1].max()))
    if (box[2] - box[0]) * (box[3] - box[1]) < cfg.min_matched_area * bank.width * bank.height:
        return None
    return Verified(inliers, matrix, box)


def all_pairs(query: Keypoints, bank: Keypoints, max_distance: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (query row, bank row, distance) within ``max_distance`` bits: the brute-force answer."""
    if len(query) == 0 or len(bank) == 0:
        empty = np.empty(0, np.int64)
        return empty, empty, empty
    qb = np.unpackbits(query.descriptors, axis=1).astype(np.int16)
    bb = np.unpackbits(bank.descriptors, axis=1).astype(np.int16)
    distances = qb.sum(1)[:, None] + bb.sum(1)[None, :] - 2 * (qb @ bb.T)
    qi, bi = np.nonzero(distances <= max_distance)
    return qi.astype(np.int64), bi.astype(np.int64), distances[qi, bi].astype(np.int64)
