"""Seeded edits of every benign photo usable offline, scanned through the engine against a bank
of the originals: recall per edit family for PDQ alone, PDQ + regions, and the full pipeline
(+ keypoints), and false matches among distractors.

Photos: the evaldata photos (UKBench, LabelMe, ThreatExchange bridge and pen-and-coaster, ISC2021
reference, AugLy dfdc_1, pytx rgb), scikit-image's bundled photos and Debian's wallpapers
(set-up, eval only: `.venv/bin/pip install scikit-image` and
`apt-get install gnome-backgrounds mate-backgrounds ukui-wallpapers`).  Each photo is scaled to
at most 1280 px (an upload's size).  Light/dark variants of one wallpaper are one group.

Halves: photo groups are split in two by a hash of their name.  The keypoint inlier threshold
is chosen on the tuning half (the lowest count above every wrong match there, plus a margin)
and everything is reported on the other half.  PDQ keeps its published threshold, 31.

Bank of a run: its half's originals, plus >= 1,000 filler tiles (random crops of photos of the
*other* half) so that every query meets many unrelated bank pictures.  Queries: every edit
family applied to every original (``--per-photo`` seeds each), and >= 1,000 distractor tiles
(crops of other photos of the other half, disjoint from the fillers), each through every family
or, with ``--families-per-distractor N``, through N families taken round robin.  Flat photos and
tiles (PDQ quality < 50) are left out and listed.  A false match is any match to a bank item that
is not the query's own original.  Photos, tiles and edits are seeded: a run repeats exactly.

    .venv/bin/python eval/images_edits.py [--smoke] [--out eval/results/images_edits.md] [--json FILE]
    # the recorded run: one process per mode, then one report
    .venv/bin/python eval/images_edits.py --modes full --fillers 2000 --families-per-distractor 1 --json full.json
    .venv/bin/python eval/images_edits.py --modes pdq,pdq+regions --threshold 13 --fillers 2000 --families-per-distractor 1 --json pdq.json
    .venv/bin/python eval/images_edits.py --combine full.json pdq.json --out eval/results/images_edits.md
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from crossmatch.banks.schemas import BankSpec  # noqa: E402
from crossmatch.banks.service import ItemUpsert  # noqa: E402
from crossmatch.context import open_context  # noqa: E402
from crossmatch.media.keypoint_settings import KeypointSettings  # noqa: E402
from crossmatch.settings import ImageSettings, RegionSettings, Settings  # noqa: E402
from crossmatch.signals.base import Content  # noqa: E402
from crossmatch.signals.pdq import pdq_hash  # noqa: E402
from image_edit_families import FAMILIES  # noqa: E402

MAX_SIDE = 1280
MODES = ("pdq", "pdq+regions", "full")
WALLPAPER_DIRS = ("/usr/share/backgrounds", "/usr/share/wallpapers")
SKIMAGE_PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "coins", "hubble_deep_field", "immunohistochemistry",
                  "moon", "retina", "rocket", "brick", "grass", "gravel", "cell", "clock")


@dataclass
class Photo:
    name: str
    group: str
    image: Image.Image


def _fit(img: Image.Image) -> Image.Image:
    img = img.convert("RGB")
    if max(img.size) > MAX_SIDE:
        img = img.copy()
        img.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return img


def _group(name: str) -> str:
    stem = Path(name).stem.lower()
    for suffix in ("-l", "-d", "-light", "-dark", "_3840x2160", "_5640x3172"):
        stem = stem.removesuffix(suffix)
    return "ubuntu-mate" if stem.startswith("ubuntu-mate") else stem


def photos(data: Path, smoke: bool) -> list[Photo]:
    te = data / "threatexchange-pdq-vpdq-tmk"
    paths = sorted((data / "imagededup-ukbench-tests" / "base_images").glob("*.jpg"))
    if not smoke:
        paths += sorted((te / "reg-test-input" / "labelme-subset").glob("*.jpg"))
        paths += [te / "bridge-mods" / "aaa-orig.jpg", te / "reg-test-input" / "pen-and-coaster.png",
                  te / "pytx-test-resources" / "rgb.jpeg", data / "isc2021-disc21" / "example-pair" / "R751771.jpg",
                  data / "augly-image-test-assets" / "dfdc_1.jpg"]
        for folder in WALLPAPER_DIRS:
            for ext in ("jpg", "jpeg", "png", "webp"):
                paths += sorted(Path(folder).rglob(f"*.{ext}"))
    out, seen = [], set()
    for path in paths:
        if not path.exists():
            continue
        img = _fit(Image.open(path))
        if min(img.size) < 200:
            continue
        out.append(Photo(f"{path.parent.name}/{path.name}", _group(path.name), img))
        seen.add(out[-1].group)
    if not smoke:
        try:
            import skimage.data
        except ImportError:
            print("scikit-image not installed: its photos are left out (pip install scikit-image)", file=sys.stderr)
        else:
            for name in SKIMAGE_PHOTOS:
                try:
                    out.append(Photo(f"skimage/{name}", name, _fit(Image.fromarray(getattr(skimage.data, name)()))))
                except Exception as exc:  # a data file the installed version lacks
                    print(f"skimage.data.{name}: {exc}", file=sys.stderr)
    flat = [p.name for p in out if not usable(p.image)]
    if flat:
        print(f"left out as flat (PDQ quality < 50): {', '.join(flat)}", file=sys.stderr)
    out = [p for p in out if p.name not in flat]
    # One copy of a picture shipped at several sizes (the groups say which).
    unique: dict[str, Photo] = {}
    for p in out:
        if p.group not in unique or p.image.width * p.image.height > unique[p.group].image.width * unique[p.group].image.height:
            unique.setdefault(p.group, p)
    return sorted(unique.values(), key=lambda p: p.name)


def halves(all_photos: list[Photo]) -> tuple[list[Photo], list[Photo]]:
    def h(p: Photo) -> str:
        return hashlib.sha1(p.group.encode()).hexdigest()

    ordered = sorted(all_photos, key=h)
    return ordered[0::2], ordered[1::2]


def tiles(sources: list[Photo], count: int, seed: int) -> list[tuple[str, Image.Image]]:
    """``count`` random crops (25-70% of each side) of the source photos, round robin; flat crops
    (a patch of sky) are skipped, as nothing is to be matched in them."""
    rng = random.Random(seed)
    out: list[tuple[str, Image.Image]] = []
    i = 0
    while len(out) < count and i < 20 * count:
        src = sources[i % len(sources)].image
        fx, fy = rng.uniform(0.25, 0.7), rng.uniform(0.25, 0.7)
        w, h = int(src.width * fx), int(src.height * fy)
        x, y = rng.randrange(0, src.width - w + 1), rng.randrange(0, src.height - h + 1)
        tile = src.crop((x, y, x + w, y + h))
        if usable(tile):
            out.append((f"tile{seed}-{i}:{sources[i % len(sources)].name}", tile))
        i += 1
    return out


def usable(img: Image.Image) -> bool:
    """PDQ quality >= 50: flat pictures (blank wallpapers, transparent PNGs shown white) are
    left out; crossmatch reports them as unreliable rather than matching them."""
    value, quality = pdq_hash(_small(img))
    return quality >= 50


def _small(img: Image.Image) -> Image.Image:
    out = img.copy()
    out.thumbnail((256, 256))
    return out


def to_jpeg(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def edited(img: Image.Image, family: str, seed: str, backdrops: list[Photo]) -> Image.Image:
    rng = random.Random(seed)
    backdrop = backdrops[rng.randrange(len(backdrops))].image
    return FAMILIES[family](img, rng, backdrop)


def _settings(home: Path, mode: str, keypoint_threshold: int) -> Settings:
    keypoints = KeypointSettings(enabled=mode == "full", min_inliers=keypoint_threshold)
    return Settings(home=home, database_url=f"sqlite:///{home / 'eval.db'}", deep_scan=mode != "pdq", workers=1,
                    image=ImageSettings(), regions=RegionSettings(enabled=mode != "pdq"), keypoints=keypoints)


def run(mode: str, bank: list[tuple[str, Image.Image]], queries, keypoint_threshold: int, progress: str) -> dict:
    """Bank the images, scan every query through the engine; per query: matched items and best scores."""
    with tempfile.TemporaryDirectory() as tmp:
        ctx = open_context(_settings(Path(tmp), mode, keypoint_threshold))
        try:
            ctx.banks.create_bank(BankSpec(name="bank", options={"ocr": False}))
            batch = []
            for name, img in bank:
                batch.append(ItemUpsert(name, ctx.engine.hash_for_bank(Content(name, "image", data=to_jpeg(img))).signals))
                if len(batch) == 200:
                    ctx.banks.upsert_items("bank", batch)
                    batch = []
            ctx.banks.upsert_items("bank", batch)
            rows, times = [], []
            for i, (qid, family, truth, make) in enumerate(queries):
                data = to_jpeg(make())
                t0 = time.perf_counter()
                result = ctx.engine.scan(Content(qid, "image", data=data))
                times.append(time.perf_counter() - t0)
                by_item: dict[str, list] = {}
                for m in result.matches:
                    by_item.setdefault(m.bank_item, []).append(
                        {"type": m.signal_type, "value": m.score if m.score is not None else m.distance,
                         "region": m.evidence.get("query_meta", {}).get("region") or m.evidence.get("query_variant")})
                rows.append({"query": qid, "family": family, "truth": truth, "matches": by_item, "error": result.error})
                if progress and (i + 1) % 500 == 0:
                    print(f"  {progress} {mode}: {i + 1}/{len(queries)} queries", file=sys.stderr)
            return {"rows": rows, "ms_median": 1000 * statistics.median(times) if times else 0.0,
                    "ms_p99": 1000 * float(np.percentile(times, 99)) if times else 0.0}
        finally:
            ctx.close()


def build(originals: list[Photo], other: list[Photo], n_fill: int, n_dist: int, per_photo: int, families: list[str],
          per_distractor: int | None = None):
    """Bank entries and queries (lazily made images) of one half."""
    fill_src, dist_src = other[0::2], other[1::2]
    per_distractor = min(per_distractor or len(families), len(families))
    bank = [(p.name, p.image) for p in originals] + tiles(fill_src, n_fill, seed=1)
    queries = []
    for p in originals:
        for family in families:
            for k in range(per_photo):
                seed = f"{p.name}|{family}|{k}"
                queries.append((seed, family, p.name, lambda p=p, f=family, s=seed: edited(p.image, f, s, dist_src)))
    for i, (name, img) in enumerate(tiles(dist_src, n_dist, seed=2)):
        # Each distractor through ``per_distractor`` families, taken round robin (all of them by default).
        for j in range(per_distractor):
            family = families[(i * per_distractor + j) % len(families)]
            seed = f"{name}|{family}"
            # Backdrops (picture-in-picture) come from the distractors' photos too: a filler's photo
            # pasted behind a distractor would be a true match, not a false one.
            queries.append((seed, family, None, lambda img=img, f=family, s=seed: edited(img, f, s, dist_src)))
    return bank, queries


def recall_table(results: dict[str, dict], families: list[str], modes) -> tuple[list[str], dict]:
    lines = ["| family | n | " + " | ".join(modes) + " |", "|---|---:|" + "---:|" * len(modes)]
    summary: dict = {}
    for family in families + ["all"]:
        cells, n = [], 0
        for mode in modes:
            rows = [r for r in results[mode]["rows"] if r["truth"] and (family == "all" or r["family"] == family)]
            n = len(rows)
            found = sum(r["truth"] in r["matches"] for r in rows)
            summary.setdefault(family, {})[mode] = found / n if n else None
            cells.append(f"{found / n:.3f} ({found})" if n else "-")
        lines.append(f"| {family} | {n} | " + " | ".join(cells) + " |")
    return lines, summary


def false_matches(result: dict) -> list[dict]:
    return [{"query": r["query"], "item": item, "how": how} for r in result["rows"]
            for item, how in r["matches"].items() if item != r["truth"]]


def keypoint_scores(result: dict) -> tuple[list[float], list[float]]:
    """(scores of true keypoint matches, scores of wrong ones) in a run."""
    true, wrong = [], []
    for r in result["rows"]:
        for item, how in r["matches"].items():
            for h in how:
                if h["type"] == "keypoints":
                    (true if item == r["truth"] else wrong).append(h["value"])
    return true, wrong


def choose_threshold(tuning: dict, floor: int = 12, margin: float = 1.25) -> int:
    """The lowest inlier count above every wrong keypoint match of the tuning half, with a margin,
    and never below the shipped default (12): a small tuning set sees few wrong matches."""
    _, wrong = keypoint_scores(tuning)
    return max(floor, int(np.ceil(max(wrong, default=0) * margin)) + 1)


def report_lines(results: dict, meta: dict, families: list[str]) -> tuple[list[str], dict]:
    modes = [m for m in MODES if m in results]
    table, summary = recall_table(results, families, modes)
    falses = {mode: false_matches(results[mode]) for mode in modes}
    lines = [
        f"Command: `{meta['command']}`", "",
        f"Photos: {meta['photos']} ({len(meta['tuning_photos'])} tuning, {len(meta['report_photos'])} reported).",
        f"Keypoint threshold chosen on the tuning half: {meta['keypoint_threshold']} inliers (tuning: highest wrong match "
        f"{meta['tuning_wrong_max']:g}, median true match {meta['tuning_true_median']}); PDQ at 31 bits.", "",
        "## Recall per edit family (reported half)", "", *table, "",
        "## False matches", "",
        "| mode | bank | queries (distractors) | false matches | query x bank pairs | 95% upper bound per pair if 0 (3/pairs) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for m in modes:
        r = results[m]
        lines.append(f"| {m} | {r['bank']} | {len(r['rows'])} ({r['distractors']}) | {len(falses[m])} | {r['pairs']:,} | "
                     f"{3.0 / r['pairs']:.1e} |")
    lines += ["", "Time per scan through the engine (ms, median / p99, on a shared loaded machine): "
              + ", ".join(f"{m} {results[m]['ms_median']:.0f} / {results[m]['ms_p99']:.0f}" for m in modes), ""]
    for m in modes:
        for f in falses[m][:10]:
            lines.append(f"- false match ({m}): {f['query']} -> {f['item']} {f['how']}")
    return lines, {"recall": summary, "false_matches": falses}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "evaldata")
    ap.add_argument("--smoke", action="store_true", help="UKBench photos only, a few families, small bank")
    ap.add_argument("--per-photo", type=int, default=2, help="seeded edits per photo and family")
    ap.add_argument("--fillers", type=int, default=1000)
    ap.add_argument("--distractors", type=int, default=1000)
    ap.add_argument("--modes", default=",".join(MODES), help="run only these modes (e.g. one per process)")
    ap.add_argument("--families", help="comma-separated subset of the edit families (development runs)")
    ap.add_argument("--families-per-distractor", type=int, help="edit families per distractor (default: all)")
    ap.add_argument("--threshold", type=int, help="keypoint inliers (skips tuning; give the tuning run's choice)")
    ap.add_argument("--combine", type=Path, nargs="*", help="JSON files of earlier runs (one per mode) to report together")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    families = ["crop_centre", "rotate_1_30", "mirror_crop", "sticker"] if args.smoke else list(FAMILIES)
    if args.families:
        families = args.families.split(",")
    if args.combine:
        runs = [json.loads(p.read_text()) for p in args.combine]
        meta, results = runs[0]["meta"], {m: r for run in runs for m, r in run["results"].items()}
        meta["command"] = "see EVALUATION.md (tuning run, one run per mode, --combine)"
    else:
        n_fill, n_dist, per_photo = (20, 6, 1) if args.smoke else (args.fillers, args.distractors, args.per_photo)
        pool = photos(args.data, args.smoke)
        tune, report = halves(pool)
        print(f"{len(pool)} photos: {len(tune)} tuning, {len(report)} reported", file=sys.stderr)
        meta = {"photos": len(pool), "tuning_photos": [p.name for p in tune], "report_photos": [p.name for p in report],
                "command": ".venv/bin/python eval/images_edits.py " + " ".join(argv if argv is not None else sys.argv[1:])}
        if args.threshold is None:
            # Tuning half: the full pipeline at the index's loosest inlier count, to see every wrong score.
            t_bank, t_queries = build(tune, report, n_fill // 4, n_dist // 4, 1, families, args.families_per_distractor)
            tuning = run("full", t_bank, t_queries, 6, "tuning")
            true_scores, wrong_scores = keypoint_scores(tuning)
            meta.update(keypoint_threshold=choose_threshold(tuning), tuning_wrong_max=max(wrong_scores, default=0),
                        tuning_true_median=statistics.median(true_scores) if true_scores else None)
        else:
            meta.update(keypoint_threshold=args.threshold, tuning_wrong_max=float("nan"), tuning_true_median=None)
        bank, queries = build(report, tune, n_fill, n_dist, per_photo, families, args.families_per_distractor)
        results = {}
        for mode in args.modes.split(","):
            results[mode] = run(mode, bank, queries, meta["keypoint_threshold"], "report")
            results[mode].update(bank=len(bank), distractors=sum(1 for q in queries if not q[2]),
                                 pairs=len(queries) * len(bank) - sum(1 for q in queries if q[2]))
    lines, summary = report_lines(results, meta, families)
    out = {"meta": meta, "keypoint_threshold": meta["keypoint_threshold"], "queries": len(next(iter(results.values()))["rows"]),
           "distractor_queries": next(iter(results.values()))["distractors"], **summary,
           "seconds": round(time.perf_counter() - t_start, 1), "results": results}
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    if args.json:
        args.json.write_text(json.dumps(out, indent=None))
    return out


if __name__ == "__main__":
    main()
