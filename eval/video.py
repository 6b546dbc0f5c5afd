"""Video evaluation on ThreatExchange's vPDQ sample videos (benign, phone-shot by the TMK author).

1. Conformance: our frame hashes (every frame) vs the reference vPDQ hash files.
2. Re-upload matching: bank = the three original videos; every sample video is a
   query; same-group pairs are positives (grey, logos, trims, longer cut), the rest negatives.
3. Excerpt: all sample videos concatenated into one long bank video; a 20 s excerpt
   (re-encoded, rescaled) must be found with the right time range in the bank video.

    .venv/bin/python eval/video.py [--data ../shared/evaldata] [--step 0] [--frame-size 128] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crossmatch.media.video import hash_video  # noqa: E402
from crossmatch.settings import Settings  # noqa: E402
from crossmatch.signals.base import Content  # noqa: E402
from crossmatch.signals.vpdq import create, hamming  # noqa: E402

BANK = {"chair": "chair-orig-22-sd-bar.mp4", "pattern": "pattern-hd-no-bar.mp4", "doorknob": "doorknob-hd-no-bar.mp4"}


def group_of(name: str) -> str | None:
    for group in BANK:
        if name.startswith(group):
            return group
    return None


def conformance(videos: Path, refs: Path, names: list[str], settings: Settings, size: int = 0) -> list[dict]:
    """Every frame, bars kept; ``size`` 0 vs the full-size reference files, 128 vs the ``-128x128`` ones."""
    rows = []
    for name in names:
        ref_file = refs / (Path(name).stem + ("-128x128.txt" if size else ".txt"))
        if not ref_file.exists():
            continue
        ref = [line.split(",") for line in ref_file.read_text().split()]
        ours = hash_video(videos / name, name, settings.video, seconds_per_hash=0, frame_size=size,
                          trim_bars=False).frames
        pairs = [(int(r[1]), hamming(r[2], f.hex), int(f.quality))
                 for r, f in zip(ref, ours) if int(r[0]) == f.frame]
        both_good = [d for q_ref, d, q in pairs if q_ref >= 50 and q >= 50]
        rows.append({"video": name, "ref_frames": len(ref), "our_frames": len(ours), "aligned": len(pairs),
                     "within_31": sum(d < 31 for d in both_good), "compared": len(both_good),
                     "exact": sum(d == 0 for d in both_good),
                     "mean_bits": round(sum(both_good) / max(1, len(both_good)), 2)})
    return rows


class Bank:
    """A minimal in-memory stand-in for the store: signal ids -> (bank item, signal)."""

    def __init__(self, vtype):
        self.vtype, self.index, self.table = vtype, vtype.fast_index() or vtype.brute_force_index(), {}

    def add(self, item: str, signals) -> None:
        entries = []
        for s in signals:
            sid = len(self.table) + 1
            self.table[sid] = (item, s)
            entries.append((sid, s))
        self.index.add(entries)

    def lookup(self, ids):
        return {i: self.table[i] for i in ids if i in self.table}

    def match(self, signals):
        return self.vtype.match(signals, self.index, self.vtype.default_threshold, self.lookup)


def reuploads(videos: Path, names: list[str], settings: Settings) -> tuple[list[dict], dict]:
    vtype = create(settings)
    sigs, secs, wall = {}, 0.0, 0.0
    for name in names:
        t0 = time.perf_counter()
        sigs[name] = vtype.hash(Content(name, "video", path=videos / name))
        wall += time.perf_counter() - t0
        secs += float(sigs[name][0].meta["duration"])
    bank = Bank(vtype)
    for group, name in BANK.items():
        bank.add(group, sigs[name])
    rows, tally = [], {"tp": 0, "fn": 0, "fp": 0, "tn": 0}
    for name in names:
        found = bank.match(sigs[name])
        truth = group_of(name)
        got = {bank.table[c.signal_ids[0]][0]: c for c in found}
        for group in BANK:
            key = ("tp" if group in got else "fn") if group == truth else ("fp" if group in got else "tn")
            tally[key] += 1
        best = got.get(truth) if truth else None
        ev = best.evidence if best else {}
        rows.append({"query": name, "truth": truth or "-", "matched": ",".join(sorted(got)) or "-",
                     "query_cov": ev.get("query_coverage"), "bank_cov": ev.get("bank_coverage"),
                     "query_ranges": ev.get("query_ranges"), "bank_ranges": ev.get("bank_ranges"),
                     "mean_bits": best.distance if best else None})
    tally["video_s_per_wall_s"] = round(secs / wall, 2)
    return rows, tally


def excerpt(videos: Path, names: list[str], settings: Settings, tmp: Path) -> dict:
    """One ~3-minute bank video of distinct content; query a re-encoded 20 s excerpt from its middle.

    Distinct content: the three originals, each also mirrored, flipped, both, and turned 90 degrees
    (PDQ is not flip-invariant, so each copy is new footage to it); the other variants are left out
    because they are the same footage and would rightly match too.
    """
    parts = [BANK[g] for g in ("chair", "pattern", "doorknob")]
    transforms = ["null", "hflip", "vflip", "hflip,vflip", "transpose=1"]
    inputs = sum((["-i", str(videos / n)] for n in parts), [])
    chains, labels = [], []
    for t_i, tf in enumerate(transforms):
        for p_i in range(len(parts)):
            label = f"v{t_i}_{p_i}"
            chains.append(f"[{p_i}:v]{tf},scale=480:360,setsar=1,fps=30[{label}]")
            labels.append(f"[{label}]")
    # each input feeds several chains: split it first
    splits = [f"[{p_i}:v]split={len(transforms)}" + "".join(f"[s{p_i}_{t}]" for t in range(len(transforms)))
              for p_i in range(len(parts))]
    chains = [c.replace(f"[{c[1]}:v]", f"[s{c[1]}_{t_i}]", 1) for t_i in range(len(transforms))
              for c in chains[t_i * len(parts):(t_i + 1) * len(parts)]]
    graph = ";".join(splits + chains) + ";" + "".join(labels) + f"concat=n={len(labels)}:v=1:a=0[out]"
    long_video, clip = tmp / "long.mp4", tmp / "clip.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *inputs, "-filter_complex", graph,
                    "-map", "[out]", "-preset", "veryfast", str(long_video)], check=True)
    start = 40.0
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-ss", str(start), "-t", "20", "-i", str(long_video),
                    "-vf", "scale=320:240", "-crf", "30", "-preset", "veryfast", str(clip)], check=True)
    vtype = create(settings)
    bank = Bank(vtype)
    long_sigs = vtype.hash(Content("long", "video", path=long_video))
    bank.add("long", long_sigs)
    found = bank.match(vtype.hash(Content("clip", "video", path=clip)))
    ev = found[0].evidence if found else {}
    return {"bank_duration_s": long_sigs[0].meta["duration"], "excerpt_s": [start, start + 20],
            "found": bool(found), **{k: ev.get(k) for k in ("query_coverage", "bank_coverage", "query_ranges",
                                                             "bank_ranges", "offset_s")}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "evaldata")
    ap.add_argument("--step", type=float, default=None, help="seconds per frame hash (default: settings)")
    ap.add_argument("--frame-size", type=int, default=None)
    ap.add_argument("--smoke", action="store_true", help="two videos, no conformance or excerpt")
    ap.add_argument("--skip", default="", help="comma list of parts to skip: conformance,excerpt")
    args = ap.parse_args()
    base = args.data / "threatexchange-pdq-vpdq-tmk"
    videos, refs = base / "sample-videos", base / "vpdq-sample-hashes"
    settings = Settings()
    if args.step is not None:
        settings.video.seconds_per_hash = args.step
    if args.frame_size is not None:
        settings.video.frame_size = args.frame_size
    names = sorted(p.name for p in videos.glob("*.mp4"))
    if args.smoke:
        names = ["doorknob-hd-no-bar.mp4", "pattern-sd-grey-bar.mp4", "pattern-hd-no-bar.mp4"]
        BANK.pop("chair")
    skip = set(args.skip.split(",")) | ({"conformance", "excerpt"} if args.smoke else set())
    out: dict = {"settings": settings.video.model_dump(include={"seconds_per_hash", "frame_size", "trim_bars", "frame_threshold",
                                                                   "min_quality", "min_query_coverage",
                                                                   "min_bank_coverage"})}
    if "conformance" not in skip:
        out["conformance"] = conformance(videos, refs, names, settings)
        out["conformance_128"] = conformance(videos, refs, names, settings, size=128)
    out["reuploads"], out["tally"] = reuploads(videos, names, settings)
    if "excerpt" not in skip:
        with tempfile.TemporaryDirectory() as tmp:
            out["excerpt"] = excerpt(videos, names, settings, Path(tmp))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
