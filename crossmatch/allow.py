"""The allow rule: an allow-bank match suppresses only the block matches it covers.

Each match came from some part of the upload: the whole of it (a file hash, a
whole-image PDQ in any orientation), a region of an image (a crop, a window,
the picture under a caption band, a local-feature box), some passages of a
text (chunks), a time range of a video, or one link.  An allow match
suppresses a block match only when the part it came from contains the block
match's part.  So a benign channel footer in an allow bank does not hide a
known text it is appended to, and an allow-listed meme stacked beside a known
poster does not hide the poster; an upload that is itself allow-listed as a
whole suppresses every block match inside it, from either pass.  And only an
allow item found whole in the upload vouches for it (:func:`vouches`): known
material quoted in an allow-listed news article, posted alone, stays flagged.

The footprint is read from the evidence each signal type already writes
(``query_meta``, ``query_box``, ``aligned`` passages, ``query_span``, ``query_ranges``); a
match whose footprint cannot be read counts as covering only itself, which
fails closed: it never suppresses anything but a match from the same query signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

BOX_SLACK = 0.02  # share of the image a contained box may overhang (rounding of crops)
TIME_SLACK_S = 0.5


@dataclass(frozen=True)
class Footprint:
    """Which part of the upload a match came from."""

    whole: bool = False
    box: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1 as shares of the image
    spans: tuple[tuple[int, int], ...] | None = None  # character spans of the query's (or its OCR) text
    times: tuple[tuple[float, float], ...] | None = None  # query video seconds
    signal: str | None = None  # the query signal value, when nothing finer is known

    def covers(self, other: "Footprint") -> bool:
        if self.whole:
            return True
        if self.box is not None and other.box is not None:
            return _box_inside(other.box, self.box)
        if self.spans is not None and other.spans is not None:
            return bool(other.spans) and all(any(a0 <= b0 and b1 <= a1 for a0, a1 in self.spans) for b0, b1 in other.spans)
        if self.times is not None and other.times is not None:
            return all(any(a0 - TIME_SLACK_S <= b0 and b1 <= a1 + TIME_SLACK_S for a0, a1 in self.times) for b0, b1 in other.times)
        return self.signal is not None and self.signal == other.signal


WHOLE_VARIANTS = {"original", "trimmed", None}


def footprint(signal_type: str, evidence: dict[str, Any]) -> Footprint:
    """Read a match's footprint from its evidence (see the module docstring)."""
    meta = evidence.get("query_meta") or {}
    signal = evidence.get("query_signal")
    if signal_type in ("md5", "sha256", "sha512", "video_md5"):
        return Footprint(whole=True)
    if signal_type == "url":
        return Footprint(signal=signal or evidence.get("url"))
    spans = _text_spans(evidence)
    if spans is not None:
        return Footprint(spans=spans) if spans else Footprint(signal=signal)
    ranges = evidence.get("query_ranges") or evidence.get("query_range")
    if ranges:
        ranges = [ranges] if isinstance(ranges[0], (int, float)) else ranges
        return Footprint(times=tuple((float(a), float(b)) for a, b in ranges))
    box = _share_box(evidence.get("query_box"), evidence.get("query_size")) or _share_box(meta.get("box"), meta.get("image_size"), xywh=True)
    if box is not None:
        return Footprint(box=box)
    if signal_type in ("pdq", "vpdq") and ("variant" in meta or not meta) and meta.get("variant") in WHOLE_VARIANTS | _DIHEDRAL:
        return Footprint(whole=True)
    if "box" in meta or "region" in meta:
        return Footprint(signal=signal)  # a region whose frame is unknown: covers only itself
    return Footprint(whole=True) if signal_type in ("pdq",) else Footprint(signal=signal)


def _text_spans(evidence: dict[str, Any]) -> tuple[tuple[int, int], ...] | None:
    """Query character spans of a text match: text_xling's aligned pairs, text_near's span."""
    if isinstance(evidence.get("aligned"), list):
        pairs = [p for p in evidence["aligned"] if isinstance(p, dict)]
        return tuple((int(p["query_start"]), int(p["query_end"])) for p in pairs
                     if isinstance(p.get("query_start"), int) and isinstance(p.get("query_end"), int))
    span = evidence.get("query_span")
    if isinstance(span, list) and len(span) == 2:
        return ((int(span[0]), int(span[1])),) if all(isinstance(v, int) for v in span) else ()
    return None


# crossmatch.signals.pdq.DIHEDRAL_VARIANTS: the whole image in another orientation.
_DIHEDRAL = {"rotated_90_clockwise", "rotated_180", "rotated_90_counterclockwise", "flipped_upside_down",
             "mirrored", "transposed", "transversed"}


def _share_box(box: Any, size: Any, xywh: bool = False) -> tuple[float, float, float, float] | None:
    if not box or len(box) != 4 or not size or len(size) != 2:
        return None
    x0, y0, a, b = (float(v) for v in box)
    x1, y1 = (x0 + a, y0 + b) if xywh else (a, b)
    w, h = float(size[0]) or 1.0, float(size[1]) or 1.0
    return (x0 / w, y0 / h, x1 / w, y1 / h)


def _box_inside(inner: tuple[float, ...], outer: tuple[float, ...]) -> bool:
    return (inner[0] >= outer[0] - BOX_SLACK and inner[1] >= outer[1] - BOX_SLACK
            and inner[2] <= outer[2] + BOX_SLACK and inner[3] <= outer[3] + BOX_SLACK)


ALLOW_MIN_COVERAGE = 0.8  # share of an allow item an upload must contain for it to vouch for the upload


def vouches(match: Any) -> bool:
    """Whether an allow match may suppress anything: the upload must hold the allow item as a whole.

    A match on part of an allow item (a bank-side crop, a window of its text, a few of its
    sentences, a stretch of its video) says only that the upload shares a piece with something
    benign, and known material quoted inside an allow-listed article is still known material.
    """
    evidence = match.evidence or {}
    if evidence.get("bank_part"):
        return False
    coverage = evidence.get("bank_coverage")
    return coverage is None or float(coverage) >= ALLOW_MIN_COVERAGE


def apply_allow(matches: Iterable[Any]) -> tuple[list[Any], list[Any]]:
    """(kept block matches, suppressed block matches): each block match is suppressed only by
    an allow match that vouches for the upload (:func:`vouches`) and whose footprint covers
    the block match's own.  ``suppressed_by`` names the allow item."""
    matches = list(matches)
    allow = [(m, footprint(m.signal_type, m.evidence)) for m in matches if m.bank_kind == "allow" and vouches(m)]
    kept, suppressed = [], []
    for match in matches:
        if match.bank_kind != "block":
            continue
        mine = footprint(match.signal_type, match.evidence)
        cover = next((a for a, fp in allow if fp.covers(mine)), None)
        if cover is None:
            kept.append(match)
        else:
            match.suppressed_by = f"{cover.bank}/{cover.bank_item}"
            suppressed.append(match)
    return kept, suppressed
