"""Flood quarantine on a simulated upload stream (issue 18).

A bank of PDQ hashes (generated posters) with an auto-action policy; a stream of uploads
(re-encoded JPEGs) through the real submission worker: mostly unknown pictures, a few
steady re-uploads of two banked posters (genuine repeat offenders that must keep acting),
and from ``--flood-at`` on, one bank poster (the "meme that slipped into a list") in 5 % of
uploads. Simulated time: the flood guard's clock is set to each upload's stream time.

Reports, per guard setting (``CONFIGS``): minutes from the flood's start to quarantine; for the
flooding signal the cases left in the review queue (goal: 1, the grouped case), the earlier cases
merged into it, its auto actions and the matches on the grouped case; for the repeat offenders
their uploads, auto actions and cases (what probation costs them); and signals quarantined
wrongly. Settings are chosen on ``--tune-seed`` (review policy) and the chosen one is reported on
``--report-seeds`` with a review policy, an auto policy, and an auto policy with probation.

    .venv/bin/python eval/flood.py [--tune-seed 1] [--report-seeds 2 3 4] [--chosen "5 + 3 in 15 min"] [--smoke]
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


# Guard settings tried on the tuning seed (name -> flood settings); the chosen one is reported on other seeds.
CONFIGS: dict[str, dict] = {
    "min_hits 3": {"min_hits": 3},
    "min_hits 5": {"min_hits": 5},
    "min_hits 10": {"min_hits": 10},
    "5 + 3 in 15 min": {"min_hits": 5, "short_window_s": 900, "short_min_hits": 3},
    "5 + 4 in 15 min": {"min_hits": 5, "short_window_s": 900, "short_min_hits": 4},
    "5 + 3 in 10 min": {"min_hits": 5, "short_window_s": 600, "short_min_hits": 3},
}
PROBATION = {"probation_hits": 2}  # added to a config for the auto-policy runs marked "+ probation"


def run(seed: int, config: str, per_hour: int, hours: float, flood_at_h: float, policy: str = "review",
        probation: bool = False) -> dict:
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    clock = {"now": start}
    flood_guard.utcnow = lambda: clock["now"]  # simulated stream time for the windows
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.load(home=Path(tmp) / "home", workers=1, deep_scan=False)
        for key, value in {**CONFIGS[config], **(PROBATION if probation else {})}.items():
            setattr(settings.flood, key, value)
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
            repeat_uploads = 0
            for i in range(n):
                t = start + timedelta(hours=hours * i / n)
                clock["now"] = t
                flooding = t >= start + timedelta(hours=flood_at_h)
                if flooding and rng.random() < 0.05:
                    source = bank_seeds[0]
                    first_flood_upload = first_flood_upload or t
                elif rng.random() < 4 / per_hour:  # each repeat offender ~2x per hour
                    source = rng.choice(repeaters)
                    repeat_uploads += 1
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
                repeat_cases = [c for c in cases if any(m.bank_item != meme for m in c.matches)]
                autos = session.scalars(select(Action).where(Action.event == "match.auto")).all()
                meme_autos = sum(1 for a in autos if any(m.get("bank_item") == meme for m in a.payload.get("matches", [])))
                repeat_autos = sum(1 for a in autos if any(m.get("bank_item") != meme for m in a.payload.get("matches", [])))
                announced = session.scalar(select(func.count()).select_from(Action).where(Action.event == "signal.quarantined"))
                grouped_matches = len(next((c.matches for c in cases if meme_q and c.id == meme_q.case_id), []))
    to_q = (meme_q.started_at.replace(tzinfo=timezone.utc) - first_flood_upload).total_seconds() / 60 if meme_q and first_flood_upload else None
    return {"seed": seed, "config": config + (" + probation" if probation else ""), "policy": policy, "uploads": n,
            "minutes_to_quarantine": to_q,
            "meme_queue_cases": sum(1 for c in meme_cases if c.status != "merged"),
            "meme_merged": sum(1 for c in meme_cases if c.status == "merged"),
            "meme_auto_actions": meme_autos, "held": meme_q.held if meme_q else 0, "grouped_matches": grouped_matches,
            "repeat_uploads": repeat_uploads, "repeat_autos": repeat_autos, "repeat_cases": len(repeat_cases),
            "wrong_quarantines": sum(1 for q in quarantines if q.bank_item != meme), "announced": announced}


COLUMNS = ("| seed | settings | policy | minutes to quarantine | flooding signal: cases in the queue | merged into the grouped case | "
           "its auto actions | matches on the grouped case | repeat offenders: uploads / auto actions / cases | "
           "wrong quarantines | signal.quarantined |")


def row(r: dict) -> str:
    mins = "—" if r["minutes_to_quarantine"] is None else f"{r['minutes_to_quarantine']:.1f}"
    return (f"| {r['seed']} | {r['config']} | {r['policy']} | {mins} | {r['meme_queue_cases']} | {r['meme_merged']} | "
            f"{r['meme_auto_actions']} | {r['grouped_matches']} | {r['repeat_uploads']} / {r['repeat_autos']} / {r['repeat_cases']} | "
            f"{r['wrong_quarantines']} | {r['announced']} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--uploads-per-hour", type=int, default=300)
    ap.add_argument("--hours", type=float, default=2.5)
    ap.add_argument("--flood-at", type=float, default=1.25, help="hours into the stream")
    ap.add_argument("--tune-seed", type=int, default=1)
    ap.add_argument("--configs", nargs="*", default=list(CONFIGS), help="settings tried on the tuning seed")
    ap.add_argument("--chosen", default="5 + 3 in 15 min", help="settings reported on the other seeds")
    ap.add_argument("--report-seeds", type=int, nargs="*", default=[2, 3, 4])
    ap.add_argument("--smoke", action="store_true", help="a tiny stream, to check the script runs")
    args = ap.parse_args()
    if args.smoke:
        args.uploads_per_hour, args.hours, args.flood_at = 120, 1.0, 0.25
        args.configs, args.report_seeds = ["min_hits 3"], []
    began = time.time()
    print(COLUMNS)
    print("|" + "---|" * COLUMNS.count(" |"))
    runs = [(args.tune_seed, c, "review", False) for c in args.configs]
    for seed in args.report_seeds:
        runs += [(seed, args.chosen, "review", False), (seed, args.chosen, "auto", False), (seed, args.chosen, "auto", True)]
    for seed, config, policy, probation in runs:
        print(row(run(seed, config, args.uploads_per_hour, args.hours, args.flood_at, policy, probation)), flush=True)
    print(f"\n({time.time() - began:.0f} s)")


if __name__ == "__main__":
    main()
