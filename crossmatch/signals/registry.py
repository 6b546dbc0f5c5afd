"""Signal-type plugins, found through the ``crossmatch.signal_types`` entry-point group.

Each entry point names a factory ``create(settings) -> SignalType``.  The entry
point's name is the stable signal type name and must equal the instance's
``name``; duplicates and mismatches are rejected loudly, never swallowed.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Callable, Iterable

from crossmatch.errors import InvalidInput
from crossmatch.settings import Settings
from crossmatch.signals.base import SignalType

GROUP = "crossmatch.signal_types"


class RegistryError(RuntimeError):
    """A broken plugin set-up (duplicate or misnamed signal types): a bug to fix, not user input."""


class UnknownSignalType(InvalidInput):
    pass


class SignalRegistry:
    """The signal types available to one engine."""

    def __init__(self, types: Iterable[SignalType]) -> None:
        self._types: dict[str, SignalType] = {}
        for signal_type in types:
            self.register(signal_type)

    def register(self, signal_type: SignalType) -> None:
        if signal_type.name in self._types:
            raise RegistryError(f"signal type {signal_type.name!r} is registered twice")
        self._types[signal_type.name] = signal_type

    def get(self, name: str) -> SignalType:
        try:
            return self._types[name]
        except KeyError:
            known = ", ".join(sorted(self._types))
            raise UnknownSignalType(f"unknown signal type {name!r}; known types: {known}") from None

    def names(self) -> list[str]:
        return sorted(self._types)

    def __iter__(self):
        return iter(self._types.values())

    def __contains__(self, name: object) -> bool:
        return name in self._types

    @classmethod
    def from_entry_points(cls, settings: Settings, only: Iterable[str] | None = None) -> "SignalRegistry":
        wanted = set(only) if only is not None else None
        factories: dict[str, Callable[[Settings], SignalType]] = {}
        for ep in entry_points(group=GROUP):
            if wanted is not None and ep.name not in wanted:
                continue
            if ep.name in factories:
                raise RegistryError(f"signal type {ep.name!r} is provided by two plugins ({ep.value})")
            factories[ep.name] = ep.load()
        registry = cls([])
        for name, factory in sorted(factories.items()):
            signal_type = factory(settings)
            if signal_type.name != name:
                raise RegistryError(
                    f"entry point {name!r} created a signal type named {signal_type.name!r}; they must agree"
                )
            registry.register(signal_type)
        return registry
