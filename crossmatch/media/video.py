"""Video decoding for hashing and OCR, kept out of the calling process.

Hostile video is routine in this field (truncated uploads, audio renamed .mp4,
8K "bombs", files that make decoders spin), and FFmpeg/vpdq are native code, so
every decode runs in a child process with an address-space limit and a
wall-clock timeout.  The child probes first (video stream present, resolution
and duration within limits) and only then decodes; any failure comes back as
a :class:`ContentError` naming the item and the reason, so a batch goes on.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from crossmatch.settings import VideoSettings
from crossmatch.signals.base import Content, ContentError


# FFmpeg demuxer names of the containers videos are shared in.
VIDEO_CONTAINERS = frozenset({"mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm", "avi", "flv", "mpegts",
                              "mpeg", "ogg", "asf", "gif", "h264", "hevc", "m4v", "mpegvideo", "ivf", "nut"})


@dataclass(frozen=True)
class FrameHash:
    """One vPDQ frame: PDQ hash of the frame at ``time`` seconds."""

    frame: int
    quality: int
    hex: str
    time: float


@dataclass(frozen=True)
class VideoHash:
    frames: list[FrameHash]
    duration_s: float
    width: int
    height: int
    warning: str | None = None  # e.g. a truncated file whose decodable part was hashed


@contextlib.contextmanager
def video_file(content: Content, max_bytes: int) -> Iterator[Path]:
    """A path to the content's video: its own path, or its bytes spilled to a temp file (vpdq reads paths)."""
    if content.path is not None and content.data is None:
        path = Path(content.path)
        if not path.is_file():
            raise ContentError(f"{content.item}: no such video file {path}")
        size = path.stat().st_size
        _check_size(content.item, size, max_bytes)
        yield path
        return
    data = content.data or b""
    _check_size(content.item, len(data), max_bytes)
    with tempfile.NamedTemporaryFile(prefix="crossmatch-video-", suffix=".bin") as tmp:
        tmp.write(data)
        tmp.flush()
        yield Path(tmp.name)


def _check_size(item: str, size: int, max_bytes: int) -> None:
    if size == 0:
        raise ContentError(f"{item}: empty video file (0 bytes)")
    if size > max_bytes:
        raise ContentError(f"{item}: video is {size} bytes, over the {max_bytes}-byte limit")


def hash_video(path: Path, item: str, settings: VideoSettings, seconds_per_hash: float | None = None,
               frame_size: int | None = None, trim_bars: bool | None = None) -> VideoHash:
    """PDQ hashes of the video's frames (every ``seconds_per_hash`` s; 0 = every frame), in a limited child.

    With ``frame_size=0, trim_bars=False`` this is reference vPDQ (the same C++ PDQ
    on every full-size frame); the defaults scale frames down first and cut black
    bars, so a pillarboxed re-upload hashes like its original.
    """
    cfg = settings
    request = {
        "op": "hash", "path": str(path),
        "step": cfg.seconds_per_hash if seconds_per_hash is None else seconds_per_hash,
        "size": cfg.frame_size if frame_size is None else frame_size,
        "trim": cfg.trim_bars if trim_bars is None else trim_bars,
    }
    out = _run_child(item, settings, request)
    frames = [FrameHash(int(f[0]), int(f[1]), str(f[2]), float(f[3])) for f in out["frames"]]
    if not frames:
        raise ContentError(f"{item}: no video frames could be decoded")
    return VideoHash(frames, float(out["duration"]), int(out["width"]), int(out["height"]), out.get("warning"))


def hash_tmk(path: Path, item: str, settings: VideoSettings, ffmpeg: str) -> bytes:
    """The reference TMK+PDQF ``.tmk`` bytes of the video (tmkpy + ffmpeg), in the same limited child."""
    out = _run_child(item, settings, {"op": "tmk", "path": str(path), "ffmpeg": ffmpeg})
    return base64.b64decode(out["tmk"])


def sample_frames(path: Path, item: str, settings: VideoSettings, every_s: float, max_frames: int,
                  out_dir: Path) -> list[tuple[float, Path]]:
    """Write one PNG per ``every_s`` seconds (at most ``max_frames``) into ``out_dir``; returns (time, file)."""
    out = _run_child(item, settings, {"op": "frames", "path": str(path), "every": every_s,
                                      "max_frames": max_frames, "out_dir": str(out_dir)})
    return [(float(t), Path(p)) for t, p in out["frames"]]


def _run_child(item: str, settings: VideoSettings, request: dict[str, Any]) -> dict[str, Any]:
    request["limits"] = {"max_pixels": settings.max_pixels, "max_duration_s": settings.max_duration_s,
                         "max_memory_mb": settings.max_memory_mb}
    limit = settings.max_memory_mb * 1024 * 1024

    def set_limits() -> None:  # runs in the child before exec
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    try:
        proc = subprocess.run(
            [sys.executable, "-m", "crossmatch.media.video"], input=json.dumps(request), text=True,
            capture_output=True, timeout=settings.timeout_s, preexec_fn=set_limits,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
    except subprocess.TimeoutExpired:
        raise ContentError(f"{item}: video decoding took over {settings.timeout_s:g} s and was stopped") from None
    lines = proc.stdout.strip().splitlines()
    result = json.loads(lines[-1]) if lines else None
    if result and "error" in result:
        raise ContentError(f"{item}: {result['error']}")
    if proc.returncode != 0 or result is None:
        why = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit code {proc.returncode}"
        tail = proc.stderr.strip().splitlines()[-1:] or [""]
        raise ContentError(f"{item}: video decoder failed ({why}; memory limit "
                           f"{settings.max_memory_mb} MB) {tail[0][:200]}".rstrip())
    return result


# ---- child side: everything below runs only inside the limited subprocess ----

def _probe(path: str, limits: dict[str, float]) -> tuple[Any, Any, float]:
    import av

    try:
        container = av.open(path)
    except av.FFmpegError as exc:
        raise ValueError(f"not a readable video container ({exc.strerror or exc})") from None
    formats = set(container.format.name.split(","))
    if not formats & VIDEO_CONTAINERS:
        container.close()
        # FFmpeg will "read" almost any bytes as some format (bintext, tty...); accept real video containers only.
        raise ValueError(f"not a video container (detected {container.format.name!r})")
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["none"]
        raise ValueError(f"no video stream (streams: {', '.join(kinds)}); audio-only or not a video")
    stream = container.streams.video[0]
    width, height = stream.codec_context.width, stream.codec_context.height
    if not width or not height:
        raise ValueError("video stream has no frame size (corrupt header)")
    if width * height > limits["max_pixels"]:
        raise ValueError(f"video is {width}x{height}, over the {int(limits['max_pixels'])}-pixel frame limit")
    duration = 0.0
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / 1_000_000
    if duration > limits["max_duration_s"]:
        raise ValueError(f"video lasts {duration:.0f} s, over the {limits['max_duration_s']:.0f} s limit")
    return container, stream, duration


def _child_hash(req: dict[str, Any]) -> dict[str, Any]:
    import numpy as np
    import pdqhash
    from av.video.reformatter import VideoReformatter
    from PIL import Image

    from crossmatch.media.image import content_box

    container, stream, duration = _probe(req["path"], req["limits"])
    stream.thread_type = "AUTO"  # frame-threaded decoding: the decoder, not PDQ, is the main cost
    width, height = stream.codec_context.width, stream.codec_context.height
    step, size, trim = float(req["step"]), int(req["size"]), bool(req["trim"])
    # Square downscale as vpdq's downsample option: PDQ ignores aspect and works at 64x64 anyway.
    small = (size, size) if size else (width, height)
    # One reformatter for the whole stream: a new scaler context per frame costs more than the decode.
    reformatter = VideoReformatter()
    frames, next_t, box, box_t = [], 0.0, None, -1.0
    try:
        for number, frame in enumerate(container.decode(stream)):
            t = float(frame.time) if frame.time is not None else number / float(stream.average_rate or 30)
            if step and t + 1e-6 < next_t:
                continue
            next_t = t + step
            rgb = reformatter.reformat(frame, width=small[0], height=small[1], format="rgb24",
                                       interpolation="AREA").to_ndarray()
            if trim:
                if box is None or t - box_t >= 1.0:  # bars change rarely: look again once a second
                    left, top, right, bottom = content_box(Image.fromarray(rgb))
                    # Step one small pixel inward on trimmed sides: a sliver of bar moves PDQ more than lost picture.
                    left, top = left + (left > 0), top + (top > 0)
                    right, bottom = right - (right < small[0]), bottom - (bottom < small[1])
                    box = (left / small[0], top / small[1], right / small[0], bottom / small[1])
                    box_t = t
                if box != (0.0, 0.0, 1.0, 1.0):
                    # Crop at full size, then scale: cropping the small square loses the detail PDQ needs.
                    big = reformatter.reformat(frame, format="rgb24").to_ndarray()
                    h, w = big.shape[:2]
                    crop = big[round(box[1] * h):round(box[3] * h), round(box[0] * w):round(box[2] * w)]
                    img = Image.fromarray(crop)
                    rgb = np.asarray(img.resize(small, Image.Resampling.BOX) if size else img)
            bits, quality = pdqhash.compute(rgb)
            frames.append((number, int(quality), np.packbits(bits.astype(np.uint8)).tobytes().hex(), round(t, 3)))
    except Exception as exc:  # noqa: BLE001 - FFmpeg raises assorted errors mid-stream
        if not frames:
            raise ValueError(f"corrupt or truncated video stream ({exc})") from None
        # A damaged tail still leaves the decoded part usable; say how much was read.
        return {"frames": frames, "duration": duration, "width": width, "height": height,
                "warning": f"decoding stopped at {frames[-1][3]:.1f} s: {exc}"}
    finally:
        container.close()
    if not frames:
        raise ValueError("the video stream holds no decodable frames (corrupt or truncated)")
    out = {"frames": frames, "duration": duration or frames[-1][3], "width": width, "height": height}
    if duration and frames[-1][3] < duration - max(1.0, 2 * step):
        out["warning"] = f"truncated: frames end at {frames[-1][3]:.1f} s of the declared {duration:.1f} s"
    return out


def _child_frames(req: dict[str, Any]) -> dict[str, Any]:
    container, stream, duration = _probe(req["path"], req["limits"])
    every, max_frames, out_dir = float(req["every"]), int(req["max_frames"]), Path(req["out_dir"])
    every = max(every, duration / max_frames) if duration else every  # spread over long videos, bounded cost
    out: list[tuple[float, str]] = []
    next_t = 0.0
    for frame in container.decode(stream):
        t = float(frame.time or 0.0)
        if t + 1e-6 < next_t:
            continue
        path = out_dir / f"frame-{len(out):05d}.png"
        frame.to_image().save(path)
        out.append((round(t, 3), str(path)))
        next_t = t + every
        if len(out) >= max_frames:
            break
    container.close()
    return {"frames": out}


def _child_tmk(req: dict[str, Any]) -> dict[str, Any]:
    import shlex

    try:
        import tmkpy
    except ImportError as exc:  # said here: the caller's ImportError handler means "out of memory"
        raise ValueError(f"tmkpy could not be loaded ({exc}); install crossmatch[tmk]") from None
    container, _stream, _duration = _probe(req["path"], req["limits"])  # refuse non-video and oversized input first
    container.close()
    with tempfile.TemporaryDirectory(prefix="crossmatch-tmk-") as tmp:
        # tmkpy runs "<ffmpeg> -nostdin -i <file> ..." through a shell, unquoted: give it a name we chose.
        video = Path(tmp) / "input"
        video.symlink_to(Path(req["path"]).resolve())
        ffmpeg = f"{shlex.quote(req['ffmpeg'])} -loglevel error"
        features = tmkpy.hashVideo(shlex.quote(str(video)), ffmpeg)
        if features.getFrameFeatureCount() < 1:
            raise ValueError("ffmpeg decoded no frames for TMK (corrupt, truncated or not a video)")
        out = Path(tmp) / "out.tmk"
        if not features.writeToOutputFile(str(out), "crossmatch"):
            raise ValueError("tmkpy could not write the TMK features")
        return {"tmk": base64.b64encode(out.read_bytes()).decode(), "frames": features.getFrameFeatureCount()}


def _child_main() -> None:
    req = json.loads(sys.stdin.read())
    try:
        op = {"hash": _child_hash, "tmk": _child_tmk}.get(req["op"], _child_frames)
        result = op(req)
    except (MemoryError, ImportError):  # under RLIMIT_AS even loading the decoder's libraries can fail
        result = {"error": f"video decoding ran out of its memory limit ({req['limits']['max_memory_mb']} MB)"}
    except (ValueError, OSError) as exc:
        result = {"error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - native decoders raise assorted errors; report, don't crash
        result = {"error": f"video could not be decoded ({type(exc).__name__}: {exc})"}
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    _child_main()
