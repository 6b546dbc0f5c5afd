"""Coverage-guided fuzzing (atheris / libFuzzer) of the parsers hostile input reaches first.

Targets: the text normaliser, the URL canonicaliser, and the CSV, JSONL and STIX readers of
bank imports.  Each may answer with its documented per-item error, never with another exception
(a crash is a finding: libFuzzer writes the input to ``crash-*``).

    # the short CI run (tests/security/test_sec_fuzz.py): every target in one process, 15 seconds
    .venv/bin/python tests/security/fuzz.py all -max_total_time=15
    # a longer run, e.g. before a release: an hour per target, keeping the corpus
    mkdir -p fuzz-corpus/csv && .venv/bin/python tests/security/fuzz.py csv fuzz-corpus/csv -max_total_time=3600 -rss_limit_mb=4096

Needs ``pip install atheris`` (the ``fuzz`` extra).
"""

from __future__ import annotations

import io
import json
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["crossmatch.text.normalize", "crossmatch.signals.url", "crossmatch.items",
                                         "crossmatch.banks.importers", "crossmatch.exchange.stix_io"]):
    from crossmatch.banks.importers import ImportReport, _csv_items
    from crossmatch.exchange.base import SourceError
    from crossmatch.exchange.stix_io import read_bundle
    from crossmatch.items import NO_MEDIA, ItemError, item_from_record, iter_records
    from crossmatch.settings import Settings
    from crossmatch.signals.base import InvalidSignal
    from crossmatch.signals.url import canonical_url
    from crossmatch.text.normalize import normalize

SEEDS = {
    "normalize": ["Ｈｅｌｌｏ\u200b wörld \u202eevil\u202c", "ا\u0644\u0651 ﻻ ٣٤", "\x00\ud800"],
    "url": ["HTTPS://www.Example.com:443/a/?utm_source=x&id=3#top", "http://[::1]:8080/x", "example.com:99999"],
    "csv": ["signal_type,signal,id,entity\nmd5,0cc175b9c0f1b6a831c399e269772661,a,Group\nurl,http://[::1/x,b,\n"],
    "jsonl": ['{"id": "a", "text": "hello"}\n{"id": "b",\r"media": "/etc/passwd"}\n[[[1]]]\n'],
    "stix": [json.dumps({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000", "objects": [
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--00000000-0000-4000-8000-000000000001",
         "created": "2024-01-01T00:00:00Z", "modified": "2024-01-01T00:00:00Z", "valid_from": "2024-01-01T00:00:00Z",
         "pattern_type": "stix", "pattern": "[file:hashes.MD5 = '0cc175b9c0f1b6a831c399e269772661']"}]})],
}


def _text(data: bytes) -> str:
    return atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(len(data))


def fuzz_normalize(data: bytes) -> None:
    text = _text(data)
    out = normalize(text)
    assert len(out.original) == len(text)


def fuzz_url(data: bytes) -> None:
    try:
        canonical_url(_text(data))
    except InvalidSignal:
        pass


_settings = None


def _registry():
    global _settings
    if _settings is None:
        from crossmatch.signals.registry import SignalRegistry

        _settings = (Settings.load(home=tempfile.mkdtemp(prefix="cm-fuzz-")),)
        _settings = (_settings[0], SignalRegistry.from_entry_points(_settings[0], only=["md5", "sha256", "pdq", "url"]))
    return _settings


def fuzz_csv(data: bytes) -> None:
    settings, registry = _registry()
    with tempfile.NamedTemporaryFile(suffix=".csv") as handle:
        handle.write(data)
        handle.flush()
        report = ImportReport()
        for item in _csv_items(Path(handle.name), registry, report, None, settings):
            assert item.external_id and item.signals
        assert all(isinstance(e, ItemError) for e in report.errors)


def fuzz_jsonl(data: bytes) -> None:
    for where, record in iter_records(io.BytesIO(data), "fuzz.jsonl"):
        if not isinstance(record, ItemError):
            item_from_record(record, NO_MEDIA, where)  # Content or ItemError, never a read of the disk


def fuzz_stix(data: bytes) -> None:
    try:
        raw = json.loads(data)
    except (ValueError, RecursionError):
        return  # not JSON: the caller's json.loads reports it
    try:
        read_bundle(raw)
    except SourceError:
        pass


TARGETS = {"normalize": fuzz_normalize, "url": fuzz_url, "csv": fuzz_csv, "jsonl": fuzz_jsonl, "stix": fuzz_stix}
ORDER = list(TARGETS)


def fuzz_all(data: bytes) -> None:
    """Every target in one process (CI pays the start-up once): the first byte picks the target."""
    if data:
        TARGETS[ORDER[data[0] % len(ORDER)]](data[1:])


TARGETS["all"] = fuzz_all
SEEDS["all"] = [chr(i) + seed for i, name in enumerate(ORDER) for seed in SEEDS[name]]


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        raise SystemExit(f"usage: fuzz.py {{{'|'.join(TARGETS)}}} [corpus dirs] [libFuzzer flags]")
    name = sys.argv.pop(1)
    if not any(not a.startswith("-") for a in sys.argv[1:]):  # no corpus given: start from the seeds
        seeds = Path(tempfile.mkdtemp(prefix=f"cm-fuzz-{name}-"))
        for i, seed in enumerate(SEEDS[name]):
            (seeds / f"seed{i}").write_bytes(seed.encode("utf-8", "surrogatepass"))
        sys.argv.append(str(seeds))
    atheris.Setup(sys.argv, TARGETS[name])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
