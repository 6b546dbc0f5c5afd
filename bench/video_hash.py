"""Video hashing throughput: seconds of video hashed per second of wall time.

Rows, all in the same run on the same videos:
  vpdq-lib full 1 thread   plain ``vpdq.computeHash(path, seconds_per_hash=0, thread_count=1)`` (reference vPDQ)
  vpdq-lib 128 1 thread    the same with vpdq's 128x128 downsampling
  crossmatch 1 worker      crossmatch.media.video.hash_video with the default settings (every frame,
                           128x128, bar trimming, decoding in a limited child process), one video at a time
  crossmatch 2 workers     the same, two videos at once (one child each), as a batch scan runs on 2 cores

    .venv/bin/python bench/video_hash.py [--data ../shared/evaldata] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crossmatch.media.video import hash_video  # noqa: E402
from crossmatch.settings import Settings  # noqa: E402


def smoke_videos(tmp: Path) -> list[Path]:
    import numpy as np
    import av

    path = tmp / "smoke.mp4"
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for _ in range(30):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return [path]


def run(label: str, videos: list[Path], fn, workers: int = 1) -> dict:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        durations = list(pool.map(fn, videos))
    wall = time.perf_counter() - t0
    total = sum(durations)
    return {"method": label, "videos": len(videos), "video_s": round(total, 1), "wall_s": round(wall, 2),
            "video_s_per_wall_s": round(total / wall, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "evaldata")
    ap.add_argument("--smoke", action="store_true", help="one generated 3 s video")
    args = ap.parse_args()
    settings = Settings()
    with tempfile.TemporaryDirectory() as tmp:
        if args.smoke:
            videos = smoke_videos(Path(tmp))
        else:
            folder = args.data / "threatexchange-pdq-vpdq-tmk" / "sample-videos"
            videos = sorted(folder.glob("*.mp4"))

        def ours(path: Path) -> float:
            return hash_video(path, path.name, settings.video).duration_s

        rows = []
        try:
            import vpdq

            def lib(size: int):
                def fn(path: Path) -> float:
                    feats = vpdq.computeHash(str(path), seconds_per_hash=0, downsample_width=size,
                                             downsample_height=size, thread_count=1)
                    return float(feats[-1].timestamp) if feats else 0.0
                return fn

            rows.append(run("vpdq-lib full 1 thread", videos, lib(0)))
            rows.append(run("vpdq-lib 128 1 thread", videos, lib(128)))
        except ImportError:
            rows.append({"method": "vpdq-lib", "skipped": "vpdq not installed"})
        rows.append(run("crossmatch 1 worker", videos, ours))
        rows.append(run("crossmatch 2 workers", videos, ours, workers=2))
    print(json.dumps({"settings": settings.video.model_dump(include={"seconds_per_hash", "frame_size", "trim_bars"}),
                      "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
