"""python-threatexchange exchanges against loopback fakes: sync, interrupt, resume, exact bank contents."""

from __future__ import annotations

import hashlib
import random

import pytest

from crossmatch.banks.schemas import BankSpec
from crossmatch.exchange.service import ExchangeService
from fake_sources import FakeExchangeServer, tcap_entry, te_record

TOKEN_ENV = "CM_TEST_TX_TOKEN"
TCAP_ENV = "CM_TEST_TCAP_CREDS"


def _pdq(seed: int) -> str:
    return "%064x" % random.Random(seed).getrandbits(256)


def _items(ctx, bank: str) -> dict[str, tuple[bool, dict, list[tuple[str, str]]]]:
    out = {}
    for item in ctx.banks.list_items(bank, limit=1000):
        _, signals = ctx.banks.get_item(bank, item.external_id)
        out[item.external_id] = (item.enabled, item.labels, [(s.type, s.value) for s in signals])
    return out


@pytest.fixture
def server():
    with FakeExchangeServer(page_size=3) as fake:
        yield fake


def test_threatexchange_sync_interrupt_resume_and_removal(ctx, server, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "1234567890|abcdefghijklmnopqrstuvwxyz0123")
    server.te_updates = [te_record(i, _pdq(i), updated=1000 + i, tags=[f"tag{i % 2}"]) for i in range(7)]
    server.te_updates.append(te_record(99, "https://example.org/x", kind="TEXT_STRING", updated=1003))
    ctx.banks.create_bank(BankSpec(name="te"))
    service = ExchangeService(ctx)
    service.add("gifct", "pytx", "te", {"api": "fb_threatexchange", "collab": {"privacy_group": 42},
                                       "base_url": server.url, "credentials_env": TOKEN_ENV})
    server.fail("offset=3", "500")  # the second page fails once
    first = service.sync("gifct")
    assert first.error and "500" in first.error and not first.complete
    assert first.added == 3 and len(_items(ctx, "te")) == 3
    assert service.get("gifct").last_error == first.error

    second = service.sync("gifct")  # resumes from the first page's checkpoint
    assert second.complete and second.error is None
    items = _items(ctx, "te")
    assert sorted(items) == sorted(f"HASH_PDQ:{_pdq(i)}" for i in range(7))
    assert all(signals == [("pdq", key.split(":", 1)[1])] for key, (_, _, signals) in items.items())
    enabled, labels, _ = items[f"HASH_PDQ:{_pdq(1)}"]
    assert enabled and labels["tags"] == ["tag1"] and labels["status"] == "positive_class" and labels["source"] == "gifct"
    assert labels["opinions"][0]["owner_app_id"] == 1234567890
    assert any("TEXT_STRING" in e.item for e in first.errors + second.errors)

    # The source removes one record and retags another.
    server.te_updates.append(te_record(2, _pdq(2), updated=2000, delete=True))
    server.te_updates.append(te_record(3, _pdq(3), updated=2001, tags=["retagged"]))
    third = service.sync("gifct")
    assert third.complete and third.removed == 1 and third.updated == 1
    items = _items(ctx, "te")
    assert len(items) == 7
    assert items[f"HASH_PDQ:{_pdq(2)}"][0] is False
    assert items[f"HASH_PDQ:{_pdq(3)}"][1]["tags"] == ["retagged"]
    assert sum(1 for enabled, _, _ in items.values() if enabled) == 6


def test_tcap_keeps_labels_and_survives_500_timeout_and_broken_page(ctx, server, monkeypatch):
    monkeypatch.setenv(TCAP_ENV, "analyst:secret")
    digests = {
        "PDQ": _pdq(1),
        "MD5": hashlib.md5(b"a").hexdigest(),
        "SHA256": hashlib.sha256(b"b").hexdigest(),
        "SHA512": hashlib.sha512(b"c").hexdigest(),
    }
    entries = [tcap_entry(i + 1, digest, algo, updated=1704085200.0 + i, group="Example Entity A", file_type="mp4")
               for i, (algo, digest) in enumerate(digests.items())]
    entries += [tcap_entry(10 + i, _pdq(10 + i), updated=1704085300.0 + i, ideology="islamist") for i in range(4)]
    entries.append(tcap_entry(20, "nothex", "PDQ", updated=1704085400.0))
    server.tcap_entries = entries
    ctx.banks.create_bank(BankSpec(name="tcap"))
    service = ExchangeService(ctx)
    service.add("tcap", "pytx", "tcap", {"api": "tat", "base_url": server.url, "credentials_env": TCAP_ENV, "timeout_s": 0.3})
    server.hang_s = 1.0

    server.fail("offset=3", "500", times=5)  # more than the library's retries
    report = service.sync("tcap")
    assert report.error and not report.complete and report.added == 3

    server.fail("offset=3", "hang", times=5)  # resumes after the first page, then the next page times out
    report = service.sync("tcap")
    assert report.error and "timed out" in report.error and report.added == 3
    assert len(_items(ctx, "tcap")) == 6

    server.fail("/api/hash-list", "broken")
    report = service.sync("tcap")
    assert report.error and "JSON" in report.error and len(_items(ctx, "tcap")) == 6

    report = service.sync("tcap")
    assert report.complete, report.error
    assert [e.item for e in report.errors] == ["pdq:nothex"]
    items = _items(ctx, "tcap")
    assert len(items) == 8
    md5_labels = items[f"md5:{digests['MD5']}"][1]
    assert md5_labels["entity"] == "Example Entity A" and md5_labels["ideology"] == "far-right"
    assert md5_labels["file_type"] == "mp4" and md5_labels["first_seen"] == "2024-01-01T05:00:00Z" and md5_labels["tcap_id"] == 2
    assert items[f"sha512:{digests['SHA512']}"][2] == [("sha512", digests["SHA512"])]
    assert items[f"pdq:{_pdq(11)}"][1]["ideology"] == "islamist"

    # Deletion at the source disables; a new entry is added; nothing is fetched twice.
    server.tcap_entries.append(tcap_entry(11, _pdq(11), updated=1704090000.0, deleted=True))
    server.tcap_entries.append(tcap_entry(30, _pdq(30), updated=1704090001.0))
    report = service.sync("tcap")
    assert report.complete and report.removed == 1 and report.added == 1 and report.unchanged == 0
    items = _items(ctx, "tcap")
    assert items[f"pdq:{_pdq(11)}"][0] is False and len(items) == 9


def test_library_checkpoints_survive_the_json_column():
    """Checkpoints are stored as JSON and restored with the library's own serialiser (nested dataclasses too)."""
    import json

    from threatexchange.exchanges.impl.fb_threatexchange_api import FBThreatExchangeCheckpoint, FBThreatExchangeSignalExchangeAPI
    from threatexchange.exchanges.impl.ncmec_api import NCMECCheckpoint, NCMECSignalExchangeAPI, _NCMECPagingInfo
    from threatexchange.utils import dataclass_json

    from crossmatch.exchange.pytx import PytxSource

    cases = [
        (NCMECSignalExchangeAPI, NCMECCheckpoint(get_entries_max_ts=1700000000, paging_info=_NCMECPagingInfo("next?page=2", 1700000001))),
        (FBThreatExchangeSignalExchangeAPI, FBThreatExchangeCheckpoint(update_time=1234)),
    ]
    for api_cls, checkpoint in cases:
        source = PytxSource("x", api_cls, None, {})
        stored = json.loads(json.dumps(dataclass_json.dataclass_dump_dict(checkpoint)))
        assert source._restore(stored) == checkpoint
        assert source.snapshot(stored) is False  # fresh checkpoints are tailed, not re-read
        assert source.snapshot(None) is True


def test_pytx_raw_text_becomes_text_near_and_keeps_no_text(ctx):
    """The library's sample exchange ships raw_text signals: they are hashed as text_near, keyed by a digest."""
    ctx.banks.create_bank(BankSpec(name="sample"))
    service = ExchangeService(ctx)
    service.add("sample", "pytx", "sample", {"api": "sample"})
    report = service.sync("sample")
    assert report.complete and report.errors == [], report.errors
    items = _items(ctx, "sample")
    texts = {key: signals for key, (_, _, signals) in items.items() if key.startswith("raw_text:")}
    assert len(texts) == 3
    assert all(key.startswith("raw_text:sha256:") and "fox" not in key for key in texts)
    assert all(signals and {t for t, _ in signals} == {"text_near"} for signals in texts.values())
    assert all(ctx.banks.get_item("sample", key)[0].content_kind == "text" for key in texts)

    from crossmatch.signals.base import Content

    result = ctx.engine.scan(Content("post", "text", text="The quick brown fox jumps over the lazy dog!"))
    assert [(m.bank, m.signal_type) for m in result.matches] == [("sample", "text_near")]
    assert result.matches[0].bank_item in texts
    # A second sync finds the same keys: nothing added twice.
    again = service.sync("sample")
    assert again.added == 0 and again.errors == []
