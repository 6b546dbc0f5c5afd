"""Video decoding: generated videos hash, and bad video input gets a clear per-item error."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

av = pytest.importorskip("av", reason="PyAV is in the 'video' extra")
pytest.importorskip("pdqhash")

from crossmatch.media.video import hash_video, sample_frames, video_file  # noqa: E402
from crossmatch.samples import encode_video  # noqa: E402
from crossmatch.settings import VideoSettings  # noqa: E402
from crossmatch.signals.base import Content, ContentError  # noqa: E402


def scenes(seconds: float, fps: int = 10, size=(160, 120), seed: int = 0) -> list[np.ndarray]:
    """Frames of a panning camera over random smooth textures, a new scene every 3 s."""
    rng = np.random.default_rng(seed)
    w, h = size
    frames = []
    n_scenes = int(np.ceil(seconds / 3)) + 1
    # Low-resolution noise smoothly upscaled: distinctive pictures PDQ hashes with full quality,
    # without pixel-level detail that no real camera footage has.
    textures = []
    for _ in range(n_scenes):
        small = rng.integers(0, 256, (max(2, h // 6), max(2, (w * 3) // 6), 3), dtype=np.uint8)
        textures.append(np.asarray(Image.fromarray(small).resize((w * 3, h), Image.Resampling.BICUBIC)))
    for i in range(int(seconds * fps)):
        t = i / fps
        tex = textures[int(t // 3)]
        x = int((t % 3) / 3 * (tex.shape[1] - w))
        frames.append(np.ascontiguousarray(tex[:h, x:x + w]))
    return frames


def encode(frames: list[np.ndarray], fps: int = 10, codec: str = "libx264") -> bytes:
    return encode_video(frames, fps, codec)


def make_video(seconds: float, seed: int = 0, fps: int = 10, size=(160, 120), bars: int = 0, grey: bool = False,
               start: float = 0.0) -> bytes:
    """An mp4 of ``seconds`` of the scene sequence for ``seed``, from ``start``; optional pillarbox bars and greyscale."""
    frames = scenes(start + seconds, fps, size, seed)[int(start * fps):]
    if grey:
        luma = np.array([0.299, 0.587, 0.114])  # what PDQ reads, so grey keeps the picture
        frames = [np.repeat((f @ luma)[..., None].astype(np.uint8), 3, axis=2) for f in frames]
    if bars:
        frames = [np.pad(f, ((0, 0), (bars, bars), (0, 0))) for f in frames]
    return encode(frames, fps)


def audio_only() -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=44100)
        samples = (np.sin(np.arange(44100) / 20) * 3000).astype(np.int16)[None, :]
        for i in range(0, 44100, 1024):
            frame = av.AudioFrame.from_ndarray(samples[:, i:i + 1024], format="s16", layout="mono")
            frame.sample_rate = 44100
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()


def hash_bytes(data: bytes, settings: VideoSettings | None = None, item: str = "v", **kw):
    settings = settings or VideoSettings()
    with video_file(Content(item, "video", data=data), settings.max_bytes) as path:
        return hash_video(path, item, settings, **kw)


def test_generated_video_hashes_every_frame_with_times():
    video = hash_bytes(make_video(3))
    assert len(video.frames) == 30
    assert video.frames[10].time == pytest.approx(1.0, abs=0.01)
    assert all(f.quality >= 50 for f in video.frames)
    assert abs(video.duration_s - 3.0) < 0.2


def test_pillarbox_bars_are_trimmed_before_hashing():
    plain = hash_bytes(make_video(2, seed=3)).frames
    barred = hash_bytes(make_video(2, seed=3, bars=40)).frames
    untrimmed = hash_bytes(make_video(2, seed=3, bars=40), trim_bars=False).frames

    def dist(a, b):
        return np.mean([(int(x.hex, 16) ^ int(y.hex, 16)).bit_count() for x, y in zip(a, b)])

    assert dist(plain, barred) < 31 < dist(plain, untrimmed)


BAD = {
    "empty": (b"", "empty video file"),
    "random": (bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8)), "not a "),
    "audio-only": (None, "no video stream"),
    "truncated-header": (None, "not a "),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_video_gets_clear_error_naming_item(name):
    data, reason = BAD[name]
    if name == "audio-only":
        data = audio_only()
    if name == "truncated-header":
        data = make_video(2)[:400]
    with pytest.raises(ContentError) as err:
        hash_bytes(data, item=f"upload-{name}")
    assert f"upload-{name}" in str(err.value) and reason in str(err.value)


def test_limits_resolution_duration_memory_and_time():
    data = make_video(2)
    cases = {
        "pixel frame limit": VideoSettings(max_pixels=100 * 100),
        "s limit": VideoSettings(max_duration_s=1),
        "byte limit": VideoSettings(max_bytes=1000),
        "memory limit": VideoSettings(max_memory_mb=40),
        "was stopped": VideoSettings(timeout_s=0.05),
    }
    for reason, settings in cases.items():
        with pytest.raises(ContentError, match=reason):
            hash_bytes(data, settings, item="big")


def test_huge_resolution_refused_before_decoding():
    # A real 8K-wide frame; the default limit (4K UHD) refuses it from the header alone.
    frame = np.zeros((64, 7680, 3), dtype=np.uint8)
    frame[:, ::7] = 255
    data = encode([frame] * 2, codec="mpeg4")
    with pytest.raises(ContentError, match="7680x64.*pixel frame limit"):
        hash_bytes(data, VideoSettings(max_pixels=7000 * 64), item="wide")


def test_batch_goes_on_after_bad_items():
    items = {"a": make_video(1), "b": b"\x00" * 100, "c": make_video(1, seed=2)}
    ok, failed = [], []
    for name, data in items.items():
        try:
            hash_bytes(data, item=name)
            ok.append(name)
        except ContentError:
            failed.append(name)
    assert ok == ["a", "c"] and failed == ["b"]


def test_truncated_tail_keeps_decoded_part_and_says_so(tmp_path: Path):
    # With the index (moov) first, a cut file still opens; the decodable part is hashed and flagged.
    path = tmp_path / "fast.mp4"
    with av.open(str(path), "w", format="mp4", options={"movflags": "faststart"}) as out:
        stream = out.add_stream("libx264", rate=10)
        stream.height, stream.width, stream.pix_fmt = 120, 160, "yuv420p"
        for arr in scenes(6):
            for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    full = path.read_bytes()
    video = hash_bytes(full[: len(full) // 2])
    assert 0 < len(video.frames) < 60
    assert video.warning and "truncated" in video.warning


def test_sample_frames_for_ocr(tmp_path: Path):
    settings = VideoSettings()
    with video_file(Content("s", "video", data=make_video(5)), settings.max_bytes) as path:
        frames = sample_frames(path, "s", settings, every_s=2.0, max_frames=10, out_dir=tmp_path)
    assert [round(t) for t, _ in frames] == [0, 2, 4]
    assert all(p.exists() and p.suffix == ".png" for _, p in frames)
