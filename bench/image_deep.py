"""The image deep pass with local features vs PDQ alone, measured in the same run.

1. Deep-pass time per ~1 MP image through the engine (``Engine.scan(deep=True)`` minus the
   same scan's cheap pass), with keypoints (full pipeline) and without (PDQ + regions),
   against a bank of 200 photos; OpenCV held to one thread.  Median and p99 of the process's
   CPU time (the machine is shared: wall time is printed too).  Index query times are CPU time.
2. Bank memory per image: the stored keypoints signal (bytes, and base64 characters) and
   the fast index's bytes per bank image.
3. Index size and query time at 100k and 1M bank images: synthetic bank images of 256
   keypoints whose descriptors are real ORB descriptors of the photos with 15% of their bits
   flipped (so bits are as unevenly set as in real descriptors), one real photo planted among
   them; the query is an edited copy of that photo (crop + 12 degree rotation).  Against the
   PDQ index (8 dihedral query hashes) over as many random hashes.  ``--sizes`` picks the sizes;
   a size whose index would not fit in ``--max-gb`` is computed from the measured bytes per
   image instead of built (said in the output).

    .venv/bin/python bench/image_deep.py [--data ../shared/evaldata] [--sizes 100000,1000000] [--smoke]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from crossmatch.banks.schemas import BankSpec  # noqa: E402
from crossmatch.banks.service import ItemUpsert  # noqa: E402
from crossmatch.context import open_context  # noqa: E402
from crossmatch.index.keypoint_index import KeypointIndex  # noqa: E402
from crossmatch.index.pdq_fast import PdqIndex  # noqa: E402
from crossmatch.media.keypoint_settings import KeypointSettings  # noqa: E402
from crossmatch.media.keypoints import Keypoints  # noqa: E402
from crossmatch.settings import Settings  # noqa: E402
from crossmatch.signals.base import Content, Signal  # noqa: E402
from crossmatch.signals.keypoints import create as create_keypoints  # noqa: E402

ONE_MP = (1155, 866)


def photo_pool(data: Path, smoke: bool) -> list[Image.Image]:
    paths = sorted((data / "imagededup-ukbench-tests" / "base_images").glob("*.jpg"))
    if not smoke:
        paths += sorted((data / "threatexchange-pdq-vpdq-tmk" / "reg-test-input" / "labelme-subset").glob("*.jpg"))
        for folder in ("/usr/share/backgrounds", "/usr/share/wallpapers"):
            paths += sorted(Path(folder).rglob("*.jpg"))
    return [Image.open(p).convert("RGB") for p in paths if p.exists()]


def jpeg(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def edit(img: Image.Image) -> Image.Image:
    w, h = img.size
    return img.crop((int(0.12 * w), int(0.08 * h), int(0.9 * w), int(0.95 * h))).rotate(12, expand=True)


def deep_times(photos: list[Image.Image], keypoints_on: bool, bank_size: int, rounds: int) -> dict:
    """Per image: scan(deep=True) minus scan(deep=False), through the engine, on 1 MP queries."""
    import cv2

    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        settings = Settings(home=home, database_url=f"sqlite:///{home / 'b.db'}", workers=1,
                            extra={"keypoints": {"enabled": keypoints_on}})
        ctx = open_context(settings)
        try:
            ctx.banks.create_bank(BankSpec(name="bank", options={"ocr": False}))
            bank = [photos[i % len(photos)].resize((640 + i % 7 * 40, 480)) for i in range(bank_size)]
            ctx.banks.upsert_items("bank", [ItemUpsert(f"b{i}", ctx.engine.hash_for_bank(Content(f"b{i}", "image", data=jpeg(img))).signals)
                                            for i, img in enumerate(bank)])
            queries = [jpeg(edit(p).resize(ONE_MP)) for p in photos]
            ctx.engine.scan(Content("warm", "image", data=queries[0]), deep=True)
            deep, cheap, deep_wall = [], [], []
            for _ in range(rounds):
                for i, data in enumerate(queries):
                    # CPU time of this process (one thread does the work): robust to a loaded machine.
                    t0, w0 = time.process_time(), time.perf_counter()
                    ctx.engine.scan(Content(f"q{i}", "image", data=data), deep=False)
                    t1, w1 = time.process_time(), time.perf_counter()
                    ctx.engine.scan(Content(f"q{i}", "image", data=data), deep=True)
                    t2, w2 = time.process_time(), time.perf_counter()
                    cheap.append(t1 - t0)
                    deep.append(max(0.0, (t2 - t1) - (t1 - t0)))
                    deep_wall.append(max(0.0, (w2 - w1) - (w1 - w0)))
            index = ctx.indexes.index("keypoints") if keypoints_on else None
            per_image = index.memory_bytes() / max(1, len(index)) if index is not None else 0
            return {"deep_ms_median": round(1000 * statistics.median(deep), 1),
                    "deep_ms_p99": round(1000 * float(np.percentile(deep, 99)), 1),
                    "deep_wall_ms_median": round(1000 * statistics.median(deep_wall), 1),
                    "cheap_ms_median": round(1000 * statistics.median(cheap), 1), "n": len(deep),
                    "index_bytes_per_image": round(per_image)}
        finally:
            ctx.close()


def synthetic_bank(real: np.ndarray, n_images: int, per_image: int, rng: np.random.Generator):
    """Keypoints objects with real-looking descriptors (a real one with 15% of bits flipped)."""
    noise = np.packbits(rng.random((1 << 16, 256)) < 0.15, axis=1)  # a pool of flip masks, drawn from
    zeros = np.zeros(per_image, np.uint8)
    for _ in range(n_images):
        descriptors = real[rng.integers(0, len(real), per_image)] ^ noise[rng.integers(0, len(noise), per_image)]
        xy = rng.uniform(0, 600, (per_image, 2)).astype(np.float32)
        yield Keypoints(xy, zeros, zeros, descriptors, 640, 480, 1.0)


def index_at(n_images: int, photos: list[Image.Image], max_gb: float, rng: np.random.Generator, overrides: dict) -> dict:
    kp_type = create_keypoints(Settings(extra={"keypoints": overrides}))
    cfg: KeypointSettings = kp_type.cfg
    bank_signals = [kp_type.hash_bank_extras(Content(f"p{i}", "image", data=jpeg(p)))[0] for i, p in enumerate(photos)]
    real = np.concatenate([Keypoints.decode(s.value).descriptors for s in bank_signals])
    query_content = Content("q", "image", data=jpeg(edit(photos[0]).resize(ONE_MP)))
    queries = kp_type.hash_deep(query_content)
    est_bytes_per_image = cfg.bank_keypoints * (32 + 4 * cfg.index_tables + 6 + 8)
    if n_images * est_bytes_per_image > max_gb * 1e9:
        return {"images": n_images, "built": False, "keypoints_index_gb": round(n_images * est_bytes_per_image / 1e9, 2)}
    index = KeypointIndex(cfg)
    t0 = time.perf_counter()
    batch = 20_000
    for start in range(0, n_images, batch):
        for i, kp in enumerate(synthetic_bank(real, min(batch, n_images - start), cfg.bank_keypoints, rng)):
            index.add_keypoints(start + i + 10, kp, seal=False)
        index._seal()
    index.add([(1, bank_signals[0])])  # the real photo, planted
    build_s = time.perf_counter() - t0
    times, found = [], None
    for _ in range(5):
        t1 = time.process_time()
        hits = [h for q in queries for h in index.query(q, cfg.min_inliers)]
        times.append(time.process_time() - t1)
        found = max((h.score for h in hits if h.signal_id == 1), default=0)
    wrong = len({h.signal_id for h in hits if h.signal_id != 1})
    out = {"images": n_images, "built": True, "descriptors": index.descriptor_count(),
           "keypoints_index_gb": round(index.memory_bytes() / 1e9, 2), "build_s": round(build_s, 1),
           "keypoints_query_ms": round(1000 * statistics.median(times), 1), "planted_inliers": found,
           "wrong_hits": wrong, "segments": len(index._segments)}
    del index
    pdq = PdqIndex()
    hashes = rng.integers(0, 256, (n_images, 32), dtype=np.uint8)
    pdq.add_hashes(np.arange(n_images, dtype=np.int64), hashes)
    dihedral = [Signal("pdq", bytes(h).hex()) for h in rng.integers(0, 256, (8, 32), dtype=np.uint8)]
    pdq.query(dihedral[0], 31)
    t2 = time.process_time()
    for _ in range(20):
        for s in dihedral:
            pdq.query(s, 31)
    out["pdq_query_ms"] = round(1000 * (time.process_time() - t2) / 20, 2)
    out["pdq_index_gb"] = round(n_images * 32 / 1e9 * 3, 3)  # hashes + MIH rows, about 3x the hashes
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "evaldata")
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--max-gb", type=float, default=6.0)
    ap.add_argument("--bank", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--keypoints", default="{}", help='KeypointSettings overrides for the index part, e.g. {"index_radius": 0}')
    ap.add_argument("--index-only", action="store_true", help="skip the deep-pass timing")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args(argv)
    photos = photo_pool(args.data, args.smoke)
    sizes = [200] if args.smoke else [int(s) for s in args.sizes.split(",")]
    bank, rounds = (10, 1) if args.smoke else (args.bank, args.rounds)
    rng = np.random.default_rng(0)
    kp_type = create_keypoints(Settings())
    stored = [Keypoints.decode(kp_type.hash_bank_extras(Content("p", "image", data=jpeg(p)))[0].value) for p in photos[:20]]
    signal_bytes = [len(k) * 38 + 16 for k in stored]
    overrides = json.loads(args.keypoints)
    out = {
        "bank_signal_bytes_mean": round(statistics.mean(signal_bytes)),
        "bank_signal_base64_chars_mean": round(statistics.mean(signal_bytes) * 4 / 3),
        "index_settings": overrides,
        "index": [index_at(n, photos, args.max_gb, rng, overrides) for n in sizes],
    }
    for row in out["index"]:
        print(json.dumps(row))
    if args.index_only:
        return out
    out["deep_full"] = deep_times(photos, True, bank, rounds)
    out["deep_pdq_regions"] = deep_times(photos, False, bank, rounds)
    full, pdq = out["deep_full"], out["deep_pdq_regions"]
    print(f"Deep pass per 1 MP image (CPU ms, median / p99, n={full['n']}): full pipeline {full['deep_ms_median']} / "
          f"{full['deep_ms_p99']}; PDQ + regions {pdq['deep_ms_median']} / {pdq['deep_ms_p99']} "
          f"(ratio {full['deep_ms_median'] / max(pdq['deep_ms_median'], 1e-9):.2f}); cheap pass {pdq['cheap_ms_median']}; "
          f"wall medians {full['deep_wall_ms_median']} / {pdq['deep_wall_ms_median']}")
    print(f"Bank memory per image: keypoints signal {out['bank_signal_bytes_mean']} bytes "
          f"({out['bank_signal_base64_chars_mean']} base64 chars); fast index {full['index_bytes_per_image']} bytes per image "
          f"at {bank} images (fixed table overhead included)")
    return out


if __name__ == "__main__":
    main()
