"""Signal-type plugins, found through the ``crossmatch.signal_types`` entry-point group.

Each entry point names a factory ``create(settings) -> SignalType``.  The entry
point's name is the stable signal type name and must equal the instance's
``name``; duplicates and mismatches are rejected loudly, never swallowed.
"""

from __future__ import annotations

import threading
from importlib.metadata import entry_points
from typing import Callable, Iterable

from crossmatch.errors import InvalidInput
from crossmatch.settings import LimitsSettings, Settings, TextSettings
from crossmatch.signals.base import SignalType

GROUP = "crossmatch.signal_types"

# The names other lists and exchanges give our types (GIFCT and TCAP lists, ThreatExchange's HASH_TMK,
# NCMEC's TMK_PDQF, StopNCII's VideoTMK, python-threatexchange's planned tmk_pdqf), lower-cased.
EXTERNAL_NAMES = {
    "tmk": "tmk_pdqf", "tmk+pdqf": "tmk_pdqf", "tmk_pdqf": "tmk_pdqf", "tmkpdqf": "tmk_pdqf", "video_tmk_pdqf": "tmk_pdqf",
    "video_tmk": "tmk_pdqf", "hash_tmk": "tmk_pdqf", "videotmk": "tmk_pdqf",
}


def canonical_type_name(name: str) -> str:
    """Our signal type name for a name a list or exchange uses (unknown names come back lower-cased)."""
    key = str(name).strip().lower()
    return EXTERNAL_NAMES.get(key, key)


class RegistryError(RuntimeError):
    """A broken plugin set-up (duplicate or misnamed signal types): a bug to fix, not user input."""


class UnknownSignalType(InvalidInput):
    pass


class SignalRegistry:
    """The signal types available to one engine.

    Types built from entry points are made on first use: a command that never
    hashes or matches (``bank list``) does not pay for loading every type's
    libraries and models.
    """

    def __init__(self, types: Iterable[SignalType] = (), factories: dict[str, Callable[[], SignalType]] | None = None,
                 text_part_chars: int | None = None, max_text_chars: int | None = None) -> None:
        # How hashing splits a long text (crossmatch/hashing.py): parts of at most text_part_chars
        # characters, max_text_chars in all; the types' own limit (text.max_chars) is one part.
        self.text_part_chars = text_part_chars or min(TextSettings().max_chars, LimitsSettings().text_part_chars)
        self.max_text_chars = max_text_chars or LimitsSettings().max_text_chars
        self._types: dict[str, SignalType] = {}
        self._factories: dict[str, Callable[[], SignalType]] = dict(factories or {})
        self._building = threading.Lock()  # request threads may ask for an unbuilt type at once
        for signal_type in types:
            self.register(signal_type)

    def register(self, signal_type: SignalType) -> None:
        if signal_type.name in self._types or signal_type.name in self._factories:
            raise RegistryError(f"signal type {signal_type.name!r} is registered twice")
        self._types[signal_type.name] = signal_type

    def get(self, name: str) -> SignalType:
        if name not in self._types:
            with self._building:
                if name not in self._types and name in self._factories:
                    self._types[name] = self._build(name)
        try:
            return self._types[name]
        except KeyError:
            known = ", ".join(self.names())
            raise UnknownSignalType(f"unknown signal type {name!r}; known types: {known}") from None

    def _build(self, name: str) -> SignalType:
        signal_type = self._factories.pop(name)()
        if signal_type.name != name:
            raise RegistryError(f"entry point {name!r} created a signal type named {signal_type.name!r}; they must agree")
        return signal_type

    def names(self) -> list[str]:
        return sorted(set(self._types) | set(self._factories))

    def __iter__(self):
        return iter([self.get(name) for name in self.names()])

    def __contains__(self, name: object) -> bool:
        return name in self._types or name in self._factories

    @classmethod
    def from_entry_points(cls, settings: Settings, only: Iterable[str] | None = None) -> "SignalRegistry":
        """Every plugin's type (or ``only`` these), each created on first use.  Duplicate names are
        refused now; a factory whose type's name differs from its entry point's, when it is built."""
        wanted = set(only) if only is not None else None
        factories: dict[str, Callable[[], SignalType]] = {}
        for ep in entry_points(group=GROUP):
            if wanted is not None and ep.name not in wanted:
                continue
            if ep.name in factories:
                raise RegistryError(f"signal type {ep.name!r} is provided by two plugins ({ep.value})")
            factories[ep.name] = (lambda ep=ep: ep.load()(settings))
        return cls(factories=factories, text_part_chars=min(settings.text.max_chars, settings.limits.text_part_chars),
                   max_text_chars=settings.limits.max_text_chars)
