"""One shared contract every registered signal type must meet (python-threatexchange style)."""

from __future__ import annotations

import pytest

from crossmatch.settings import Settings
from crossmatch.signals.base import InvalidSignal, SignalType, within
from crossmatch.signals.registry import RegistryError, SignalRegistry, UnknownSignalType


def _registry(tmp_path) -> SignalRegistry:
    return SignalRegistry.from_entry_points(Settings.load(home=tmp_path))


def _names() -> list[str]:
    from importlib.metadata import entry_points

    return sorted(ep.name for ep in entry_points(group="crossmatch.signal_types"))


def test_core_types_are_registered(tmp_path):
    names = _registry(tmp_path).names()
    assert {"pdq", "md5", "sha256", "url"} <= set(names)


@pytest.mark.parametrize("name", _names())
def test_contract(tmp_path, name):
    signal_type: SignalType = _registry(tmp_path).get(name)
    assert signal_type.name == name
    assert signal_type.metric in ("distance", "score")
    examples = signal_type.examples()
    assert len(examples) >= 2, "examples() feeds this contract test: give at least two"
    for example in examples:
        assert example.type == name
        # validate() is idempotent on canonical values.
        assert signal_type.validate(example.value) == example.value
        # A signal is always within threshold of itself.
        assert within(signal_type.metric, signal_type.compare(example, example), signal_type.default_threshold)
    with pytest.raises(InvalidSignal):
        signal_type.validate("not a valid signal value \x00")

    # The fast index (if any) returns exactly the brute-force set, for every example as a query.
    fast = signal_type.fast_index()
    if fast is None:
        return
    brute = signal_type.brute_force_index()
    entries = list(enumerate(examples, start=1))
    brute.add(entries)
    fast.add(entries)
    for query in examples:
        expected = {h.signal_id for h in brute.query(query, signal_type.default_threshold)}
        got = {h.signal_id for h in fast.query(query, signal_type.default_threshold)}
        assert got == expected
    fast.remove([1])
    assert 1 not in {h.signal_id for h in fast.query(examples[0], signal_type.default_threshold)}


def test_registry_rejects_duplicates(tmp_path):
    registry = _registry(tmp_path)
    with pytest.raises(RegistryError, match="registered twice"):
        registry.register(registry.get("md5"))
    with pytest.raises(UnknownSignalType, match="unknown signal type 'nope'"):
        registry.get("nope")
