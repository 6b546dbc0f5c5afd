"""Image scanning throughput (images per second, one process) for the media part of a scan:

  pdq          decode at 512 px + whole-image PDQ with dihedral variants (the pdq type's ``hash``)
  + regions    + crossmatch.media.regions.candidate_regions and a PDQ hash per region (deep pass)
  + ocr        + the OCR extractor (tesseract, the configured languages) (deep pass)

    .venv/bin/python bench/image_scan.py [--data ../shared/evaldata] [--smoke]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crossmatch.media.ocr import OcrExtractor  # noqa: E402
from crossmatch.media.regions import candidate_regions  # noqa: E402
from crossmatch.settings import Settings  # noqa: E402
from crossmatch.signals.base import Content  # noqa: E402
from crossmatch.signals.pdq import create as create_pdq, decoded_image, pdq_hash  # noqa: E402


def smoke_images() -> list[tuple[str, bytes]]:
    from crossmatch.media.fonts import poster_image

    out = []
    for i in range(3):
        buf = io.BytesIO()
        poster_image(f"Benchmark poster number {i}", size=(600, 400)).save(buf, format="PNG")
        out.append((f"smoke-{i}.png", buf.getvalue()))
    return out


def data_images(data: Path) -> list[tuple[str, bytes]]:
    paths = sorted((data / "imagededup-ukbench-tests" / "base_images").glob("*.jpg"))
    paths += sorted((data / "augly-image-test-assets" / "expected_output").glob("*.png"))
    paths += sorted((data / "threatexchange-pdq-vpdq-tmk" / "reg-test-input" / "labelme-subset").glob("*.jpg"))
    return [(p.name, p.read_bytes()) for p in paths]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "evaldata")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    settings = Settings()
    images = smoke_images() if args.smoke else data_images(args.data)
    pdq = create_pdq(settings)
    ocr = OcrExtractor(settings)
    ocr_ok = ocr.available()
    times = {"pdq": 0.0, "regions": 0.0, "ocr": 0.0}
    region_counts = []
    for name, data in images:
        content = Content(name, "image", data=data)
        t0 = time.perf_counter()
        pdq.hash(content)
        t1 = time.perf_counter()
        regions = candidate_regions(decoded_image(content, settings.image), settings)
        for region in regions:
            pdq_hash(region.image)
        t2 = time.perf_counter()
        if ocr_ok:
            ocr.extract(content)
        t3 = time.perf_counter()
        times["pdq"] += t1 - t0
        times["regions"] += t2 - t1
        times["ocr"] += t3 - t2
        region_counts.append(len(regions))
    n = len(images)
    rows = [
        {"mode": "pdq", "images_per_s": round(n / times["pdq"], 2)},
        {"mode": "pdq + regions", "images_per_s": round(n / (times["pdq"] + times["regions"]), 2),
         "regions_per_image_max": max(region_counts), "regions_per_image_mean": round(sum(region_counts) / n, 2)},
        {"mode": "pdq + regions + ocr", "images_per_s": round(n / sum(times.values()), 2) if ocr_ok else None,
         "ocr_langs": settings.ocr.langs if ocr_ok else "unavailable"},
    ]
    print(json.dumps({"images": n, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
