"""Benign synthetic sample images and the edits platforms see, for the demo and tests.

No real material is shipped: "known items" are generated posters of shapes,
gradients and text, seeded so every run makes the same pixels.  The edits are
the everyday ones (resize, re-encode, greyscale, flip, caption, letterbox) that
a hash-sharing tool must see through.
"""

from __future__ import annotations

import io
import random
from importlib.resources import files
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

_FONT_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)


def font(size: int) -> ImageFont.ImageFont:
    for path in _FONT_PATHS:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def make_poster(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A deterministic 'poster': gradient background, shapes and a title."""
    rng = random.Random(seed)
    w, h = size
    base = Image.linear_gradient("L").resize(size).rotate(rng.choice([0, 90, 180, 270]), expand=False)
    tint = tuple(rng.randrange(40, 220) for _ in range(3))
    img = ImageOps.colorize(base, black=(rng.randrange(0, 60),) * 3, white=tint)
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randrange(6, 12)):
        x0, y0 = rng.randrange(0, w - 40), rng.randrange(0, h - 40)
        x1, y1 = x0 + rng.randrange(30, w // 2), y0 + rng.randrange(30, h // 2)
        colour = tuple(rng.randrange(0, 256) for _ in range(3))
        shape = rng.choice(["rect", "ellipse", "line"])
        if shape == "rect":
            draw.rectangle([x0, y0, x1, y1], fill=colour)
        elif shape == "ellipse":
            draw.ellipse([x0, y0, x1, y1], fill=colour)
        else:
            draw.line([x0, y0, x1, y1], fill=colour, width=rng.randrange(4, 16))
    draw.text((w // 12, h // 12), f"SAMPLE {seed}", fill=(255, 255, 255), font=font(h // 10))
    return img.filter(ImageFilter.SMOOTH)


def to_bytes(img: Image.Image, fmt: str = "JPEG", quality: int = 90) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    return out.getvalue()


def caption(img: Image.Image, text: str, band: float = 0.18) -> Image.Image:
    """A meme-style caption band added above the picture."""
    w, h = img.size
    band_h = int(h * band)
    out = Image.new("RGB", (w, h + band_h), (255, 255, 255))
    out.paste(img, (0, band_h))
    ImageDraw.Draw(out).text((w // 20, band_h // 4), text, fill=(0, 0, 0), font=font(band_h // 2))
    return out


def letterbox(img: Image.Image, ratio: float = 0.25, colour: tuple[int, int, int] = (0, 0, 0)) -> Image.Image:
    w, h = img.size
    pad = int(h * ratio / 2)
    out = Image.new("RGB", (w, h + 2 * pad), colour)
    out.paste(img, (0, pad))
    return out


EDITS = {
    "resized": lambda img: img.resize((img.width // 2, img.height // 2)),
    "reencoded": lambda img: Image.open(io.BytesIO(to_bytes(img, quality=35))).convert("RGB"),
    "greyscale": lambda img: ImageOps.grayscale(img).convert("RGB"),
    "flipped": ImageOps.mirror,
    "rotated": lambda img: img.rotate(90, expand=True),
    "captioned": lambda img: caption(img, "new caption"),
    "letterboxed": letterbox,
}


def write_demo_set(root: Path, known: int = 6, unrelated: int = 4) -> tuple[Path, Path]:
    """Write ``root/known`` (the bank) and ``root/incoming`` (edited copies mixed with unrelated images)."""
    known_dir, incoming_dir = root / "known", root / "incoming"
    known_dir.mkdir(parents=True, exist_ok=True)
    incoming_dir.mkdir(parents=True, exist_ok=True)
    names = list(EDITS)
    for i in range(known):
        poster = make_poster(1000 + i)
        (known_dir / f"poster_{i:02d}.jpg").write_bytes(to_bytes(poster))
        edit = names[i % len(names)]
        (incoming_dir / f"upload_{i:02d}_{edit}.jpg").write_bytes(to_bytes(EDITS[edit](poster)))
    for j in range(unrelated):
        (incoming_dir / f"upload_unrelated_{j:02d}.jpg").write_bytes(to_bytes(make_poster(5000 + j)))
    return known_dir, incoming_dir


def write_text_samples(root: Path) -> tuple[Path, Path]:
    """Copy the shipped benign text samples: Arabic bank items and incoming posts
    (Russian, Kazakh and Uzbek translations, an excerpt, a disguised copy, a same-topic
    news item that must not match, and an unrelated post)."""
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for name in ("demo_texts_bank.jsonl", "demo_texts_incoming.jsonl"):
        target = root / name
        target.write_text(files("crossmatch.data").joinpath(name).read_text(encoding="utf-8"), encoding="utf-8")
        out.append(target)
    return out[0], out[1]


def _scene_frames(seconds: float, fps: int, size: tuple[int, int], seed: int) -> list:
    """Frames of a slow pan over smooth random textures, a new scene every 3 s."""
    import numpy as np

    rng = np.random.default_rng(seed)
    w, h = size
    textures = []
    for _ in range(int(seconds // 3) + 2):
        small = rng.integers(0, 256, (max(2, h // 6), max(2, w // 2), 3), dtype=np.uint8)
        textures.append(np.asarray(Image.fromarray(small).resize((w * 3, h), Image.Resampling.BICUBIC)))
    frames = []
    for i in range(int(seconds * fps)):
        t = i / fps
        texture = textures[int(t // 3)]
        x = int((t % 3) / 3 * (texture.shape[1] - w))
        frames.append(np.ascontiguousarray(texture[:, x : x + w]))
    return frames


def _subtitle(frame, text: str):
    import numpy as np

    img = Image.fromarray(frame)
    draw = ImageDraw.Draw(img)
    size = max(10, img.height // 12)
    draw.text((img.width // 20, img.height - 2 * size), text, fill=(255, 255, 255), font=font(size), stroke_width=2, stroke_fill=(0, 0, 0))
    return np.asarray(img)


def encode_video(frames: list, fps: int, codec: str = "libx264") -> bytes:
    """RGB frames (numpy arrays) to MP4 bytes."""
    import av  # the 'video' extra

    out_buf = io.BytesIO()
    with av.open(out_buf, "w", format="mp4") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return out_buf.getvalue()


def write_video_samples(root: Path, fps: int = 10, size: tuple[int, int] = (240, 180)) -> tuple[Path, Path]:
    """A 45 s 'known' clip, and uploads: a 12 s re-cut excerpt with burnt-in subtitles and an unrelated clip."""
    known_dir, incoming_dir = root / "known", root / "incoming"
    known_dir.mkdir(parents=True, exist_ok=True)
    incoming_dir.mkdir(parents=True, exist_ok=True)
    frames = _scene_frames(45, fps, size, seed=11)
    (known_dir / "clip_00.mp4").write_bytes(encode_video(frames, fps))
    excerpt = [_subtitle(f, "новые субтитры") for f in frames[20 * fps : 32 * fps]]
    (incoming_dir / "upload_recut_subtitled.mp4").write_bytes(encode_video(excerpt, fps))
    (incoming_dir / "upload_unrelated.mp4").write_bytes(encode_video(_scene_frames(10, fps, size, seed=99), fps))
    return known_dir, incoming_dir


def write_hash_list(known_dir: Path, target: Path) -> Path:
    """The known posters as a partner shares them: a hash-list CSV (PDQ and MD5, rows grouped by item id).

    PDQ comes from the ``pdqhash`` binding of the reference implementation on the full-size picture, as a
    GIFCT or TCAP member computes it; crossmatch's own hashes of the same files match it.
    """
    import csv
    import hashlib

    import numpy as np
    import pdqhash

    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["signal_type", "signal", "id", "entity", "category", "source"])
        for number, path in enumerate(sorted(known_dir.glob("*.jpg"))):
            data = path.read_bytes()
            with Image.open(io.BytesIO(data)) as img:
                bits, _quality = pdqhash.compute(np.asarray(img.convert("RGB")))
            pdq = np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes().hex()
            item = f"partner-{number:02d}"
            labels = ["Example Entity A" if number % 2 == 0 else "Example Entity B", "sample", "partner-list"]
            out.writerow(["pdq", pdq, item, *labels])
            out.writerow(["md5", hashlib.md5(data).hexdigest(), item, *labels])
    return target
