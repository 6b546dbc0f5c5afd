"""python-threatexchange extension: crossmatch's text signal types for HMA and the ``threatexchange`` CLI.

Load with ``threatexchange config extensions add crossmatch.tx_extension`` (or
list the module in HMA's extension settings).  The classes adapt crossmatch's
own ``text_near`` (MinHash) and ``text_xling`` (per-sentence multilingual
embeddings) types to python-threatexchange's class-method interface:

* ``text_near``: a text's MinHashes (the whole text, and for long texts one
  per window of sentences) joined with ``;``; distance = 1 - the best
  estimated Jaccard over every pair of parts.
* ``text_xling``: a text's chunk embeddings joined with ``;``; distance =
  1 - the best chunk-pair cosine.  This is a screen, not crossmatch's full
  document decision (margins, alignment, number checks): confirm hits in crossmatch.

python-threatexchange calls class methods, so each adapter builds its crossmatch
type once, on first use, from ``Settings.load()`` (CROSSMATCH_* environment).
Index classes are module-level and built once: the ``threatexchange`` CLI
checks ``get_index_cls() == type(index)`` before storing an index and
unpickles it by class name.
"""

from __future__ import annotations

import typing as t

import numpy as np
from threatexchange.content_type.content_base import ContentType
from threatexchange.content_type.text import TextContent
from threatexchange.extensions.manifest import ThreatExchangeExtensionManifest
from threatexchange.signal_type import signal_base
from threatexchange.signal_type.index import SignalTypeIndex

from crossmatch.settings import Settings
from crossmatch.signals.base import Content, InvalidSignal, Signal

XLING_MIN_COSINE = 0.90  # chunk-pair screen; e5 cosines of unrelated text sit around 0.75-0.85
SEPARATOR = ";"


class _CrossmatchText(signal_base.SimpleSignalType, signal_base.TextHasher):
    NAME: t.ClassVar[str]
    _type: t.ClassVar[t.Any] = None

    @classmethod
    def crossmatch_type(cls) -> t.Any:
        if cls._type is None:  # built on first use: a text_xling type loads an embedding model
            from crossmatch.signals.registry import SignalRegistry

            cls._type = SignalRegistry.from_entry_points(Settings.load(), only=[cls.NAME]).get(cls.NAME)
        return cls._type

    @classmethod
    def get_name(cls) -> str:
        return cls.NAME

    @classmethod
    def get_content_types(cls) -> t.List[t.Type[ContentType]]:
        return [TextContent]

    @classmethod
    def _values(cls, text: str) -> list[str]:
        signals = cls.crossmatch_type().hash(Content(item="text", kind="text", text=text))
        return [s.value for s in signals if s.type == cls.NAME and not s.meta.get("query_only")]

    @classmethod
    def hash_from_str(cls, text: str) -> str:
        values = cls._values(text)
        if not values:
            raise ValueError(f"{cls.NAME}: no signal could be made from this text (too short or no letters)")
        return SEPARATOR.join(values)

    @classmethod
    def validate_signal_str(cls, signal_str: str) -> str:
        try:
            return SEPARATOR.join(cls.crossmatch_type().validate(part) for part in signal_str.split(SEPARATOR))
        except InvalidSignal as exc:
            raise ValueError(str(exc)) from None

    @classmethod
    def get_index_cls(cls) -> t.Type[SignalTypeIndex]:
        return _INDEX_CLASSES[cls.NAME]


class TextNearSignal(_CrossmatchText):
    """crossmatch ``text_near``: MinHash of normalised word shingles (near-duplicate text)."""

    NAME = "text_near"

    @classmethod
    def compare_hash(cls, hash1: str, hash2: str) -> signal_base.SignalComparisonResult:
        st = cls.crossmatch_type()
        # Long texts carry several MinHashes (whole text and sentence windows): the best pair decides,
        # so a post quoting part of a known text matches as it does in crossmatch.
        score = max(st.compare(Signal(cls.NAME, a), Signal(cls.NAME, b))
                    for a in hash1.split(SEPARATOR) for b in hash2.split(SEPARATOR))
        return signal_base.SignalComparisonResult.from_simple_dist(round(1.0 - score, 4), round(1.0 - st.default_threshold, 4))

    @staticmethod
    def get_examples() -> t.List[str]:
        return [s.value for s in TextNearSignal.crossmatch_type().examples()]


class TextXlingSignal(_CrossmatchText):
    """crossmatch ``text_xling``: multilingual sentence embeddings (the same text across languages)."""

    NAME = "text_xling"

    @classmethod
    def compare_hash(cls, hash1: str, hash2: str) -> signal_base.SignalComparisonResult:
        from crossmatch.signals.text_xling import decode_vector

        a = np.stack([decode_vector(v) for v in hash1.split(SEPARATOR)])
        b = np.stack([decode_vector(v) for v in hash2.split(SEPARATOR)])
        best = float(np.max(a @ b.T))
        return signal_base.SignalComparisonResult.from_simple_dist(round(1.0 - best, 4), round(1.0 - XLING_MIN_COSINE, 4))

    @staticmethod
    def get_examples() -> t.List[str]:
        return [s.value for s in TextXlingSignal.crossmatch_type().examples()]


class TextNearIndex(signal_base.TrivialLinearSearchHashIndex):
    """Linear search with crossmatch's text_near comparison (pickled by the ``threatexchange`` CLI)."""

    _SIGNAL_TYPE = TextNearSignal


class TextXlingIndex(signal_base.TrivialLinearSearchHashIndex):
    """Linear search with the text_xling chunk-pair screen (pickled by the ``threatexchange`` CLI)."""

    _SIGNAL_TYPE = TextXlingSignal


_INDEX_CLASSES: dict[str, t.Type[SignalTypeIndex]] = {"text_near": TextNearIndex, "text_xling": TextXlingIndex}

TX_MANIFEST = ThreatExchangeExtensionManifest(signal_types=(TextNearSignal, TextXlingSignal))
