"""Low-information guard for bank signals: hashes of flat images, lattice patterns, or below
their type's quality floor match far too many unrelated uploads (the usual start of a flood).

Such an item is flagged when it enters a bank (label ``low_information`` with the reason,
whoever adds it: import, exchange sync, API), and the flood guard quarantines a flagged
signal at its first match, so it opens one grouped case and takes no auto action until a
curator decides. Only PDQ-like 256-bit hashes are judged by their bits; any type with a
quality floor (``min_quality``) is judged by quality.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

LABEL = "low_information"


def low_information(signal_type: str, value: str, quality: float | None = None, min_quality: float | None = None) -> str | None:
    """Why this signal carries too little information to bank safely, or None."""
    if quality is not None and min_quality is not None and quality < min_quality:
        return f"{signal_type} quality {quality:g} is below {min_quality:g}"
    if signal_type != "pdq" or len(value) != 64:
        return None
    try:
        bits = bin(int(value, 16)).count("1")
    except ValueError:
        return None
    if bits < 32 or bits > 224:
        return f"pdq hash has {bits} of 256 bits set: a flat or nearly flat image"
    # A random (natural-image) hash uses ~16 hex digits, none more than ~12 % of the time; a lattice
    # (checkerboard, stripes, halftone) repeats a few byte patterns.
    digits = Counter(value.lower())
    if len(digits) <= 6 or digits.most_common(1)[0][1] >= 0.35 * 64:
        return f"pdq hash repeats {len(digits)} hex digits: a lattice or repeated pattern"
    return None


def flag_items(items: list, min_quality_of: Any) -> list:
    """Items with a low-information signal get the ``low_information`` label (in place; returns them)."""
    for item in items:
        for signal in item.signals:
            reason = low_information(signal.type, signal.value, signal.quality, min_quality_of(signal.type))
            if reason:
                item.labels = {**(item.labels or {}), LABEL: reason}
                break
    return items


def flag_rows(ids: list[str], types: list[str], values: list[str]) -> dict[str, str]:
    """The low-information reason per item id of a hash list given in columns (the first such
    signal of an item gives it). Rows carry no quality, so only types judged by their bits count."""
    reasons: dict[str, str] = {}
    for n in [n for n, signal_type in enumerate(types) if signal_type == "pdq"]:
        reason = low_information(types[n], values[n])
        if reason and ids[n] not in reasons:
            reasons[ids[n]] = reason
    return reasons
