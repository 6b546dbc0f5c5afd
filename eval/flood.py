"""Flood quarantine on a simulated upload stream (issue 18).

A bank of PDQ hashes (generated posters) with an auto-action policy; a stream of uploads
(re-encoded JPEGs) through the real submission worker: mostly unknown pictures, a few
steady re-uploads of two banked posters (genuine repeat offenders that must keep acting),
and from ``--flood-at`` on, one bank poster (the "meme that slipped into a list") in 5 % of
uploads. Simulated time: the flood guard's clock is set to each upload's stream time.

Reports, per setting of ``flood.min_hits``: minutes from the flood's start to quarantine,
cases opened for the flooding signal (individual + grouped; goal 1), auto actions it took,
and signals quarantined wrongly (the steady repeat offenders). min_hits is chosen on seed 1
and reported on seed 2.

    .venv/bin/python eval/flood.py [--uploads-per-hour 300] [--hours 2.5] [--min-hits 3 5 10] [--chosen 5] [--smoke]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from sqlalchemy import func, select  # noqa: E402

from crossmatch import samples  # noqa: E402
from crossmatch.actions.models import Action  # noqa: E402
from crossmatch.banks.schemas import BankSpec  # noqa: E402
from crossmatch.banks.service import ItemUpsert  # noqa: E402
from crossmatch.context import open_context  # noqa: E402
from crossmatch.flood import guard as flood_guard  # noqa: E402
from crossmatch.flood.models import FloodQuarantine  # noqa: E402
from crossmatch.review.models import Case  # noqa: E402
from crossmatch.settings import Settings  # noqa: E402
from crossmatch.signals.base import Content  # noqa: E402
from workflow_support import services  # noqa: E402

SIZE = (320, 240)


def jpeg(seed: int, quality: int) -> bytes:
    return samples.to_bytes(samples.make_poster(seed, SIZE), quality=quality)


def run(seed: int, min_hits: int, per_hour: int, hours: float, flood_at_h: float, policy: str = "review") -> dict:
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    clock = {"now": start}
    flood_guard.utcnow = lambda: clock["now"]  # simulated stream time for the windows
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.load(home=Path(tmp) / "home", workers=1, deep_scan=False)
        settings.flood.min_hits = min_hits
        with open_context(settings) as ctx:
            svc = services(ctx)
            ctx.banks.create_bank(BankSpec(name="shared-list", options={"policy": {"on_match": policy}}))
            bank_seeds = [seed * 10_000 + i for i in range(40)]
            items = []
            for s in bank_seeds:
                hashed = ctx.engine.hash_for_bank(Content(f"poster-{s}", "image", data=jpeg(s, 95)))
                items.append(ItemUpsert(f"poster-{s}", [x for x in hashed.signals if x.type == "pdq"]))
            ctx.banks.upsert_items("shared-list", items)
            svc.actions.create_webhook("platform", "http://127.0.0.1:9/hook", ["match.auto", "signal.quarantined"])
            meme, repeaters = f"poster-{bank_seeds[0]}", [bank_seeds[1], bank_seeds[2]]
            n = int(per_hour * hours)
            first_flood_upload = None
            for i in range(n):
                t = start + timedelta(hours=hours * i / n)
                clock["now"] = t
                flooding = t >= start + timedelta(hours=flood_at_h)
                if flooding and rng.random() < 0.05:
                    source = bank_seeds[0]
                    first_flood_upload = first_flood_upload or t
                elif rng.random() < 4 / per_hour:  # each repeat offender ~2x per hour
                    source = rng.choice(repeaters)
                else:
                    source = seed * 10_000 + 5000 + i  # an unknown picture
                data = jpeg(source, rng.choice([60, 75, 85]))
                svc.submissions.submit("uploads", Content(f"upload-{i}", "image", data=data), None, "stream")
                svc.submissions.process_next()
            with ctx.sessions() as session:
                quarantines = list(session.scalars(select(FloodQuarantine)))
                cases = session.scalars(select(Case)).all()
                meme_q = next((q for q in quarantines if q.bank_item == meme), None)
                meme_cases = [c for c in cases if any(m.bank_item == meme for m in c.matches)]
                autos = session.scalars(select(Action).where(Action.event == "match.auto")).all()
                meme_autos = sum(1 for a in autos if any(m.get("bank_item") == meme for m in a.payload.get("matches", [])))
                announced = session.scalar(select(func.count()).select_from(Action).where(Action.event == "signal.quarantined"))
    to_q = (meme_q.started_at.replace(tzinfo=timezone.utc) - first_flood_upload).total_seconds() / 60 if meme_q and first_flood_upload else None
    return {"seed": seed, "policy": policy, "min_hits": min_hits, "uploads": n, "minutes_to_quarantine": to_q,
            "meme_cases": len(meme_cases), "meme_auto_actions": meme_autos, "held": meme_q.held if meme_q else 0,
            "wrong_quarantines": sum(1 for q in quarantines if q.bank_item != meme), "announced": announced}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--uploads-per-hour", type=int, default=300)
    ap.add_argument("--hours", type=float, default=2.5)
    ap.add_argument("--flood-at", type=float, default=1.25, help="hours into the stream")
    ap.add_argument("--min-hits", type=int, nargs="*", default=[3, 5, 10], help="tried on seed 1")
    ap.add_argument("--chosen", type=int, default=5, help="min_hits reported on seed 2")
    ap.add_argument("--smoke", action="store_true", help="a tiny stream, to check the script runs")
    args = ap.parse_args()
    if args.smoke:
        args.uploads_per_hour, args.hours, args.flood_at, args.min_hits = 120, 1.0, 0.25, [2]
    began = time.time()
    print("| seed | policy | min_hits | uploads | minutes to quarantine | cases for the flooding signal | its auto actions | "
          "matches held | wrong quarantines | signal.quarantined |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    runs = [(1, m, "review") for m in args.min_hits]
    if not args.smoke:
        runs += [(2, args.chosen, "review"), (2, args.chosen, "auto")]
    for seed, min_hits, policy in runs:
            r = run(seed, min_hits, args.uploads_per_hour, args.hours, args.flood_at, policy)
            mins = "—" if r["minutes_to_quarantine"] is None else f"{r['minutes_to_quarantine']:.1f}"
            print(f"| {r['seed']} | {r['policy']} | {r['min_hits']} | {r['uploads']} | {mins} | {r['meme_cases']} | {r['meme_auto_actions']} | "
                  f"{r['held']} | {r['wrong_quarantines']} | {r['announced']} |", flush=True)
    print(f"\n({time.time() - began:.0f} s)")


if __name__ == "__main__":
    main()
