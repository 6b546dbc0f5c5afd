"""Upload-stream benchmark: submissions/s through JetStream with 1 and 2 worker processes.

Each run submits ``--items`` images as the API does (spool file, row, publish),
with ``crossmatch serve --role worker`` processes consuming, and reports
submissions/s (first submit to last result) and end-to-end latency p50/p99
(row created to result committed).  The baseline, measured in the same run, is
the default in-process database queue with one worker process.  The last run
kills one of two workers mid-run (SIGKILL) and checks that every submission
was scanned and has exactly one action.

    python bench/stream.py --items 300
    python bench/stream.py --smoke
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

NATS_URL = os.environ.get("CROSSMATCH_TEST_NATS_URL", "nats://127.0.0.1:4222")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=300)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    items = 8 if args.smoke else args.items
    runs = [("local queue, 1 worker", "local", 1, False), ("JetStream, 1 worker", "nats", 1, False),
            ("JetStream, 2 workers", "nats", 2, False), ("JetStream, 2 workers, one killed", "nats", 2, True)]
    if args.smoke:
        runs = runs[1:2]
    rows = [run(label, queue, workers, kill, items) for label, queue, workers, kill in runs]
    base = rows[0]["per_s"] if not args.smoke else None
    for row in rows:
        row["vs_baseline"] = round(row["per_s"] / base, 2) if base else None
        print(json.dumps(row))


def run(label: str, queue: str, workers: int, kill: bool, n: int) -> dict:
    from sqlalchemy import select

    from crossmatch.actions.models import Action
    from crossmatch.actions.service import ActionService
    from crossmatch.api.submissions import Submission
    from crossmatch.context import open_context
    from crossmatch.samples import make_poster, to_bytes
    from crossmatch.scale import stream_harness as harness

    contents = _contents(n, make_poster, to_bytes)
    with tempfile.TemporaryDirectory() as tmp:
        settings = harness.stream_settings(Path(tmp) / "home", NATS_URL)
        if queue == "local":
            settings = settings.model_copy(update={"scale": settings.scale.model_copy(update={"queue": "local"})})
        with open_context(settings) as cx:
            ActionService(cx.sessions, settings, cx.banks).create_webhook("platform", "http://127.0.0.1:9/hook", ["submission.scanned"])
            service = harness.submission_service(cx, settings) if queue == "nats" else _local_service(cx, settings)
            procs = [harness.start_worker(settings) for _ in range(workers)]
            try:
                started = time.perf_counter()
                ids = []
                for i, content in enumerate(contents):
                    ids.append(service.submit("bench", content, None, None)[0]["id"])
                    if kill and i == n // 2:
                        procs[0].send_signal(signal.SIGKILL)  # mid-run, most likely mid-item
                harness.wait_for(lambda: set(harness.statuses(cx).values()) <= {"done", "failed"}, 600, "every submission", 0.05)
                seconds = time.perf_counter() - started
            finally:
                for proc in procs:
                    if proc.poll() is None:
                        proc.send_signal(signal.SIGTERM)
                        proc.wait(30)
                if service.publisher is not None:
                    service.publisher.close()
            with cx.sessions() as session:
                rows = session.execute(select(Submission.id, Submission.status, Submission.created_at, Submission.finished_at)).all()
                actions = Counter(session.scalars(select(Action.submission_id).where(Action.event == "submission.scanned")))
        if queue == "nats":
            harness.delete_streams(settings)
    latency = np.array([(f - c).total_seconds() for _, _, c, f in rows if f is not None])
    return {"run": label, "items": n, "per_s": round(n / seconds, 1), "p50_ms": round(float(np.percentile(latency, 50)) * 1000),
            "p99_ms": round(float(np.percentile(latency, 99)) * 1000),
            "lost": sum(1 for _, status, _, _ in rows if status != "done"),
            "actions_not_exactly_once": sum(1 for i in ids if actions.get(i) != 1)}


def _contents(n: int, make_poster, to_bytes) -> list:
    from crossmatch.signals.base import Content

    posters = [to_bytes(make_poster(4000 + i, (320, 240))) for i in range(min(n, 50))]
    return [Content(f"upload-{i}.jpg", "image", data=posters[i % len(posters)]) for i in range(n)]


def _local_service(cx, settings):
    from crossmatch.actions.service import ActionService
    from crossmatch.api.submissions import SubmissionService

    return SubmissionService(cx.sessions, settings, cx.engine, ActionService(cx.sessions, settings, cx.banks))


if __name__ == "__main__":
    sys.exit(main())
