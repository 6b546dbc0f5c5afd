"""Hard image edits: AugLy's crop, screenshot, meme and emoji-overlay outputs of dfdc_1.jpg,
which whole-image PDQ misses (56-122 bits), vs region hashes from crossmatch.media.regions.

Bank: dfdc_1.jpg plus unrelated photos (imagededup UKBench base images, the ISC2021
example pair, ThreatExchange's bridge original, LabelMe subset, pen-and-coaster and
pytx images). Every image is decoded and scaled to 512 px as the PDQ type does.
Queries: the 8 AugLy outputs (all should find dfdc_1) and every bank photo (each may
only find itself). Modes: whole-image PDQ only; + query regions; + bank regions; both.

    .venv/bin/python eval/images_hard.py [--data ../shared/evaldata] [--threshold 31]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crossmatch.media.image import downscale, open_image  # noqa: E402
from crossmatch.media.regions import bank_regions, candidate_regions  # noqa: E402
from crossmatch.settings import Settings  # noqa: E402
from crossmatch.signals.pdq import hamming, pdq_hash  # noqa: E402

HARD = ("crop", "overlay_onto_screenshot", "meme_format", "overlay_emoji")
EASY = ("grayscale", "encoding_quality", "scale", "overlay_text")


def negatives(data: Path) -> list[Path]:
    te = data / "threatexchange-pdq-vpdq-tmk"
    paths = sorted((data / "imagededup-ukbench-tests" / "base_images").glob("*.jpg"))
    paths += sorted((data / "isc2021-disc21" / "example-pair").glob("*.jpg"))[:1]  # the pair is one picture
    paths += [te / "bridge-mods" / "aaa-orig.jpg", te / "reg-test-input" / "pen-and-coaster.png"]
    paths += sorted((te / "reg-test-input" / "labelme-subset").glob("*.jpg"))
    paths += [te / "pytx-test-resources" / n for n in ("rgb.jpeg", "LA.png")]
    return [p for p in paths if p.exists()]


def hashes(img, regions, min_quality: int) -> list[tuple[str, str]]:
    """(reason, hex) for the whole image and each region, dropping low-quality hashes as the PDQ type does."""
    out = []
    for reason, part in [("whole", img)] + [(r.reason, r.image) for r in regions]:
        value, quality = pdq_hash(part)
        if quality >= min_quality:
            out.append((reason, value))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "evaldata")
    ap.add_argument("--threshold", type=int, default=31)
    args = ap.parse_args()
    settings = Settings()
    augly = args.data / "augly-image-test-assets"

    def load(path: Path):
        img = open_image(path.read_bytes(), path.name, settings.image, max_side=512)
        return downscale(img, settings.image.pdq_decode_size)

    bank_paths = [augly / "dfdc_1.jpg"] + negatives(args.data)
    queries = [(f"augly:{n}", augly / "expected_output" / f"test_{n}.png") for n in HARD + EASY]
    queries += [(f"neg:{p.name}", p) for p in bank_paths[1:]]
    q_min = settings.image.pdq_min_quality
    t0 = time.perf_counter()
    bank = {}
    for p in bank_paths:
        img = load(p)
        bank[p.name] = {"plain": hashes(img, [], q_min), "regions": hashes(img, bank_regions(img, settings), q_min)}
    t_bank = (time.perf_counter() - t0) / len(bank_paths)
    rows, t_query = [], 0.0
    for name, path in queries:
        img = load(path)
        t1 = time.perf_counter()
        plain = hashes(img, [], q_min)
        extended = hashes(img, candidate_regions(img, settings), q_min)
        t_query += time.perf_counter() - t1
        row = {"query": name, "n_query_hashes": len(extended)}
        for mode, q_set, b_key in (("plain", plain, "plain"), ("query_regions", extended, "plain"),
                                   ("bank_regions", plain, "regions"), ("both", extended, "regions")):
            found = {}
            for item, sets in bank.items():
                pairs = [(hamming(qv, bv), qr, br) for qr, qv in q_set for br, bv in sets[b_key]]
                best = min(pairs) if pairs else None
                if best and best[0] <= args.threshold:
                    found[item] = f"{best[0]} ({best[1]} vs {best[2]})"
            row[mode] = found
        rows.append(row)
        if name.startswith("neg:"):  # margin: the closest any other bank image comes, over all hash pairs
            me = path.name
            closest = min(((hamming(qv, bv), qr, br, item) for item, sets in bank.items() if item != me
                           for qr, qv in extended for br, bv in sets["regions"] + sets["plain"]), default=None)
            if closest:
                row["closest_other"] = list(closest)
    summary = {}
    for mode in ("plain", "query_regions", "bank_regions", "both"):
        hard = sum("dfdc_1.jpg" in r[mode] for r in rows if r["query"].split(":")[1] in HARD)
        easy = sum("dfdc_1.jpg" in r[mode] for r in rows if r["query"].split(":")[1] in EASY)
        false = sum(len([k for k in r[mode] if k != r["query"].split(":", 1)[1] and
                         not (r["query"].startswith("augly") and k == "dfdc_1.jpg")]) for r in rows)
        summary[mode] = {"hard_found": f"{hard}/{len(HARD)}", "easy_found": f"{easy}/{len(EASY)}",
                         "false_matches": false}
    margins = [r["closest_other"] for r in rows if "closest_other" in r]
    summary["closest_unrelated_pair"] = min(margins) if margins else None
    print(json.dumps({"threshold": args.threshold, "bank_images": len(bank), "queries": len(rows),
                      "ms_per_bank_image_regions": round(t_bank * 1000, 1),
                      "ms_per_query_regions": round(t_query / len(rows) * 1000, 1),
                      "summary": summary, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
