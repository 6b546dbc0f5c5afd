"""The signal change log under concurrent writer processes, on SQLite and PostgreSQL.

Readers (every process's indices) tail ``signal_changes`` with ``seq > last_seen``.
A writer that took an early seq but committed after a later one would be skipped
for good; the bank write lock makes seq order commit order.  Here several writer
processes import at once, each commit slowed a little (as a network round trip or
an fsync would), while this process tails the log; it must end with every signal.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from crossmatch.banks.schemas import BankSpec
from crossmatch.context import open_context
from crossmatch.settings import Settings
from workflow_support import start_together

WRITERS = 4
BATCHES = 40

WRITER = r"""
import random, sys, time
from pathlib import Path
from sqlalchemy import event
from sqlalchemy.orm import Session
from crossmatch.banks.service import ItemUpsert
from crossmatch.context import open_context
from crossmatch.settings import Settings
from crossmatch.signals.base import Signal

home, url, writer, batches, go = sys.argv[1], sys.argv[2] or None, int(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5])
rng = random.Random(writer)
# A slow commit widens the window between taking a seq and making it visible.
event.listen(Session, "before_commit", lambda session: time.sleep(rng.random() * 0.01))
with open_context(Settings.load(home=home, database_url=url, workers=1)) as ctx:
    Path(f"{go}.ready{writer}").touch()
    while not go.exists():
        time.sleep(0.005)
    for b in range(batches):
        items = [ItemUpsert(f"w{writer}-{b}-{i}", [Signal("md5", f"{writer:02x}{b:04x}{i:02x}".ljust(32, "0"))])
                 for i in range(rng.randint(1, 3))]
        ctx.banks.upsert_items("shared", items)
"""


@pytest.mark.slow  # four writer processes start up (about 25 s on a loaded 2-core machine)
def test_a_reader_tailing_the_log_misses_no_concurrent_commit(tmp_path: Path, database_url: str | None) -> None:
    settings = Settings.load(home=tmp_path / "home", database_url=database_url, workers=1)
    go = tmp_path / "go"
    with open_context(settings) as ctx:
        ctx.banks.create_bank(BankSpec(name="shared"))
        ctx.indexes.index("md5")  # loaded now: everything after arrives through refresh()
        writers = [
            subprocess.Popen([sys.executable, "-c", WRITER, str(settings.home), database_url or "", str(n), str(BATCHES), str(go)],
                             stderr=subprocess.PIPE)
            for n in range(WRITERS)
        ]
        start_together(writers, go)
        seen: set[int] = set()
        last, polls = 0, 0
        while any(w.poll() is None for w in writers):
            added, removed, last = ctx.banks.changes_since("md5", last)
            seen.update(sid for sid, _ in added)
            ctx.indexes.refresh(force=True)
            polls += 1
            time.sleep(0.002)
        for w in writers:
            assert w.wait() == 0, w.stderr.read().decode()[-2000:]
        added, removed, last = ctx.banks.changes_since("md5", last)
        seen.update(sid for sid, _ in added)
        ctx.indexes.refresh(force=True)
        stored = {sid for sid, _ in ctx.banks.iter_signals("md5")}
        assert polls > 10  # the reader really read while the writers wrote
        assert len(stored) >= WRITERS * BATCHES
        assert sorted(stored - seen) == []  # no commit skipped by the tail
        # nor by the index manager that tails the same log (each refresh publishes a new version)
        assert len(ctx.indexes.index("md5")) == len(stored)
