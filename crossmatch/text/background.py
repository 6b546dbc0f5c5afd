"""A shipped background corpus: generic news in every supported language, as sentence vectors.

The ratio margin divides a pair's cosine by how close the query chunk comes to
*other* texts.  In a small bank there are no other texts, so every pair looks
distinctive and a news report on the same subject matches; in a large bank
the neighbourhood is the bank itself.  A fixed, topical background (news
sentences in Arabic, Russian, Kazakh, Uzbek, Tajik, Kyrgyz, Turkmen,
Azerbaijani, Tatar and English, embedded with the same model) always joins
the neighbourhood, so a margin means about the same in a bank of 10 chunks
and of 100,000.  The neighbourhood is taken *per bank language*: a Russian
query chunk is compared with the Arabic background when the bank chunk is
Arabic, because cosines across two languages are lower than within one, and a
same-language background would make every cross-language pair look weak.

The vectors are per model: another backend has no background unless one is
built for it (``scripts/build_text_background.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

PACKAGE = "crossmatch.data.text_background"


def model_slug(model_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in model_id)


@dataclass(frozen=True)
class Background:
    """Unit float32 rows and the language of each row (ISO 639-1, as language id gives it)."""

    vectors: np.ndarray
    langs: tuple[str, ...]
    _rows: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        codes = np.asarray(self.langs)
        for lang in dict.fromkeys(self.langs):
            self._rows[lang] = np.flatnonzero(codes == lang)

    def __len__(self) -> int:
        return len(self.vectors)

    def for_lang(self, lang: str | None) -> np.ndarray:
        """The rows in ``lang``; every row when the language is unknown or has no background."""
        rows = self._rows.get(lang) if lang else None
        return self.vectors if rows is None or len(rows) == 0 else self.vectors[rows]

    @property
    def languages(self) -> list[str]:
        return list(self._rows)


def load_background(model_id: str) -> Background | None:
    """The background for ``model_id``, or None when none ships for that model."""
    folder = resources.files(PACKAGE)
    vectors, meta = folder / f"{model_slug(model_id)}.npy", folder / f"{model_slug(model_id)}.json"
    if not vectors.is_file() or not meta.is_file():
        return None
    with vectors.open("rb") as handle:
        rows = np.load(handle).astype(np.float32)
    rows /= np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    info = json.loads(meta.read_text(encoding="utf-8"))
    langs = [lang for lang, count in info.get("row_languages", []) for _ in range(count)]
    if len(langs) != len(rows):  # an older file without row languages: one pool for every language
        langs = ["*"] * len(rows)
    return Background(rows, tuple(langs))


def describe_background(model_id: str) -> dict | None:
    """What the shipped background was built from (sources, sizes, licence)."""
    meta = resources.files(PACKAGE) / f"{model_slug(model_id)}.json"
    return json.loads(meta.read_text(encoding="utf-8")) if meta.is_file() else None
