"""`crossmatch purge` removes kept media past its retention limit, and only that."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import update
from typer.testing import CliRunner

from crossmatch.banks.schemas import BankSpec
from crossmatch.banks.service import ItemUpsert
from crossmatch.cli import app
from crossmatch.context import open_context
from crossmatch.review.media import media_dir
from crossmatch.review.models import utcnow
from crossmatch.signals.base import Signal
from crossmatch.store.models import BankItem


def test_purge_deletes_only_expired_media(sqlite_settings):
    folder = media_dir(sqlite_settings.home)
    folder.mkdir(parents=True)
    old, fresh = folder / "bank-item-1.jpg", folder / "bank-item-2.jpg"
    old.write_bytes(b"preview")
    fresh.write_bytes(b"preview")
    with open_context(sqlite_settings) as ctx:
        ctx.banks.create_bank(BankSpec(name="b"))
        ctx.banks.upsert_items("b", [ItemUpsert("old", [Signal("md5", "0" * 32)]), ItemUpsert("fresh", [Signal("md5", "1" * 32)])])
        with ctx.sessions.begin() as session:
            session.execute(update(BankItem).where(BankItem.external_id == "old").values(media_path=str(old), media_expires_at=utcnow() - timedelta(days=1)))
            session.execute(update(BankItem).where(BankItem.external_id == "fresh").values(media_path=str(fresh), media_expires_at=utcnow() + timedelta(days=1)))
    result = CliRunner().invoke(app, ["--home", str(sqlite_settings.home), "purge", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"purged": 1}
    assert not old.exists() and fresh.exists()
    with open_context(sqlite_settings) as ctx:
        assert ctx.banks.get_item("b", "old")[0].media_path is None
        assert ctx.banks.get_item("b", "fresh")[0].media_path == str(fresh)
