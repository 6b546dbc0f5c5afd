"""Video hashing throughput: seconds of video hashed per second of wall time.

Rows, all in the same run on the same videos:
  vpdq-lib full 1 thread   plain ``vpdq.computeHash(path, seconds_per_hash=0, thread_count=1)`` (reference vPDQ)
  vpdq-lib 128 1 thread    the same with vpdq's 128x128 downsampling
  crossmatch 1 worker      crossmatch.media.video.hash_video with the default settings (every frame,
                           128x128, bar trimming, decoding in a limited child process), one video at a time
  crossmatch 2 workers     the same, two videos at once (one child each), as a batch scan runs on 2 cores

Methods are interleaved per video so that load from other jobs falls on all of them alike.

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


def interleaved(methods: dict, videos: list[Path]) -> list[dict]:
    """Every method on each video in turn, so load from other jobs drifts over all methods alike.

    A ``(fn, workers)`` method with 2 workers hashes the video pair (this one, the next) at once.
    """
    totals = {label: [0.0, 0.0] for label in methods}  # video seconds, wall seconds
    for i, path in enumerate(videos):
        for label, (fn, workers) in methods.items():
            batch = [path] if workers == 1 else [path, videos[(i + 1) % len(videos)]]
            t0 = time.perf_counter()
            with ThreadPoolExecutor(workers) as pool:
                seconds = sum(pool.map(fn, batch))
            totals[label][0] += seconds
            totals[label][1] += time.perf_counter() - t0
    return [{"method": label, "videos": len(videos), "video_s": round(v, 1), "wall_s": round(w, 2),
             "video_s_per_wall_s": round(v / w, 2)} for label, (v, w) in totals.items()]


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

        methods = {}
        try:
            import vpdq

            def lib(size: int):
                def fn(path: Path) -> float:
                    feats = vpdq.computeHash(str(path), seconds_per_hash=0, downsample_width=size,
                                             downsample_height=size, thread_count=1)
                    return float(feats[-1].timestamp) if feats else 0.0
                return fn

            methods["vpdq-lib full 1 thread"] = (lib(0), 1)
            methods["vpdq-lib 128 1 thread"] = (lib(128), 1)
        except ImportError:
            pass
        methods["crossmatch 1 worker"] = (ours, 1)
        methods["crossmatch 2 workers"] = (ours, 2)
        rows = interleaved(methods, videos)
    print(json.dumps({"settings": settings.video.model_dump(include={"seconds_per_hash", "frame_size", "trim_bars"}),
                      "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
