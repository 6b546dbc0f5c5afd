"""A shipped background corpus: the margin's neighbourhood when the bank alone is too small.

The ratio margin divides a pair's cosine by how close the query chunk comes to
*other* texts.  In a bank of three items there are no other texts, so every
pair looked distinctive and a news report on the same subject matched.  A
fixed set of generic sentence vectors (public-domain health and news text in
Arabic, Russian and English, embedded with the same model) always joins the
neighbourhood, so a margin means the same in a bank of 3 items and of 3
million.  The vectors are per model: another backend has no background
unless one is built for it (``scripts/build_text_background.py``).
"""

from __future__ import annotations

import json
from importlib import resources

import numpy as np

PACKAGE = "crossmatch.data.text_background"


def model_slug(model_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in model_id)


def load_background(model_id: str) -> np.ndarray | None:
    """Unit float32 rows for ``model_id``, or None when no background ships for that model."""
    folder = resources.files(PACKAGE)
    vectors = folder / f"{model_slug(model_id)}.npy"
    if not vectors.is_file():
        return None
    with vectors.open("rb") as handle:
        rows = np.load(handle).astype(np.float32)
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def describe_background(model_id: str) -> dict | None:
    """What the shipped background was built from (sources, sizes, licence)."""
    meta = resources.files(PACKAGE) / f"{model_slug(model_id)}.json"
    return json.loads(meta.read_text(encoding="utf-8")) if meta.is_file() else None
