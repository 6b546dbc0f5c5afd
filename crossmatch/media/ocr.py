"""OCR of text inside images and sampled video frames, with Debian's tesseract.

The extractor writes ``content.derived["ocr"]``: one entry per text block,
``{"text", "lang", "box": [x, y, w, h] | None, "frame_time": float | None,
"confidence"}``.  The text signal types read it through
``crossmatch.text.extract.text_of`` so a caption or burnt-in subtitle matches
text banks in any language they cover, and the box and frame time go into the
evidence.  Tesseract runs as a child process with a timeout (no Python binding
to crash or leak), one thread, on a copy of the image scaled so small text is
readable.  Subtitles repeat for seconds: blocks already read in an earlier
frame are dropped, keeping the first time they were seen.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import tempfile
from difflib import SequenceMatcher
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from crossmatch.media.image import open_image
from crossmatch.media.video import sample_frames, video_file
from crossmatch.settings import OcrSettings, Settings
from crossmatch.signals.base import Content, ContentError

MIN_TEXT_HEIGHT = 900  # tesseract reads best with ~20-40 px letters; small frames are scaled up to this
SAME_TEXT = 0.8  # difflib ratio above which two blocks are the same subtitle read twice


class OcrUnavailable(RuntimeError):
    """tesseract or one of the requested language packs is not installed."""


def tesseract_langs(binary: str = "tesseract") -> set[str]:
    if shutil.which(binary) is None:
        return set()
    out = subprocess.run([binary, "--list-langs"], capture_output=True, text=True, timeout=30)
    return {line.strip() for line in out.stdout.splitlines()[1:] if line.strip()}


def check_langs(langs: str, binary: str = "tesseract") -> None:
    """Raise OcrUnavailable naming what to install (deps/apt-media.txt lists the Debian packages)."""
    have = tesseract_langs(binary)
    if not have:
        raise OcrUnavailable("tesseract is not installed (Debian package tesseract-ocr)")
    missing = [lang for lang in langs.split("+") if lang not in have]
    if missing:
        pkgs = " ".join(f"tesseract-ocr-{m.replace('_', '-')}" for m in missing)
        raise OcrUnavailable(f"tesseract language data missing: {', '.join(missing)} (install {pkgs})")


def _prepare(img: Image.Image, max_side: int) -> tuple[Image.Image, float]:
    """Greyscale copy scaled for reading; returns it and the factor back to the caller's pixels."""
    grey = ImageOps.grayscale(img)
    scale = 1.0
    if max(grey.size) > max_side:
        scale = max_side / max(grey.size)
    elif grey.height < MIN_TEXT_HEIGHT:
        scale = min(3.0, MIN_TEXT_HEIGHT / grey.height, max_side / max(grey.size))
    if scale != 1.0:
        grey = grey.resize((max(1, round(grey.width * scale)), max(1, round(grey.height * scale))),
                           Image.Resampling.LANCZOS)
    return grey, scale


def ocr_image(img: Image.Image, settings: OcrSettings, item: str = "image",
              frame_time: float | None = None) -> list[dict]:
    """Text blocks read from ``img`` with boxes in ``img``'s own pixel coordinates.

    Tesseract reads dark text on light ground; burnt-in subtitles and meme text
    are light on a busy picture, so when the image has a caption-sized share of
    bright pixels they get a second pass as black-on-white.
    """
    grey, scale = _prepare(img, settings.max_side)
    blocks = _tesseract(grey, scale, settings, item, frame_time)
    mask = bright_text_mask(img)
    if mask is not None:
        mask_grey, mask_scale = _prepare(mask, settings.max_side)
        blocks += _tesseract(mask_grey, mask_scale, settings, item, frame_time)
    return _best_blocks(blocks)


def bright_text_mask(img: Image.Image) -> Image.Image | None:
    """Light caption glyphs as black on white, or None when the image has none.

    Subtitles and meme text are white or yellow with a dark outline or on a dark
    bar; light texture in the picture (sky, carpet, fabric) is not outlined.  So
    a light component is kept as a glyph when most of it lies next to dark pixels.
    """
    import cv2  # opencv-python-headless, the 'media' extra

    hsv = np.asarray(img.convert("HSV"), dtype=np.int16)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    bright = (val > 200) & ((sat < 60) | ((hue > 25) & (hue < 45)))  # white, or yellow (PIL hue 0-255)
    share = float(bright.mean())
    if not 0.002 < share < 0.6:
        return None
    near_dark = cv2.dilate((val < 70).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    count, labels, stats, _ = cv2.connectedComponentsWithStats(bright.astype(np.uint8), connectivity=8)
    touching = np.bincount(labels[bright & near_dark], minlength=count) / np.maximum(stats[:, cv2.CC_STAT_AREA], 1)
    h, w = bright.shape
    keep = (touching > 0.5) & (stats[:, cv2.CC_STAT_AREA] >= max(12, int(3e-5 * h * w)))
    keep &= stats[:, cv2.CC_STAT_HEIGHT] <= 0.2 * h  # glyph-sized, not a light region of the picture
    keep[0] = False  # background label
    glyphs = keep[labels]
    if glyphs.mean() < 0.001:
        return None
    return Image.fromarray(np.where(glyphs, 0, 255).astype(np.uint8))


def _best_blocks(blocks: list[dict]) -> list[dict]:
    """Keep the most confident reading where both passes read the same place or the same words."""
    kept: list[dict] = []
    # Rank by confidence summed over words: a long confident reading beats a short confident scrap.
    for block in sorted(blocks, key=lambda b: -(b["confidence"] ** 2) * len(b["text"].split())):
        if any(_overlap(block["box"], k["box"]) > 0.5 or _same_text(block["text"], k["text"]) for k in kept):
            continue
        kept.append(block)
    return sorted(kept, key=lambda b: (b["box"][1], b["box"][0]))


def _overlap(a: list[int], b: list[int]) -> float:
    """Intersection over the smaller box."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    return w * h / max(1, min(a[2] * a[3], b[2] * b[3]))


def _tesseract(grey: Image.Image, scale: float, settings: OcrSettings, item: str,
               frame_time: float | None) -> list[dict]:
    buf = io.BytesIO()
    grey.save(buf, format="PNG")
    cmd = ["tesseract", "stdin", "stdout", "-l", settings.langs, "--psm", "3", "tsv"]
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}  # one thread: the machine is shared, parallelism is per item
    try:
        proc = subprocess.run(cmd, input=buf.getvalue(), capture_output=True, timeout=settings.timeout_s, env=env)
    except FileNotFoundError:
        raise OcrUnavailable("tesseract is not installed (Debian package tesseract-ocr)") from None
    except subprocess.TimeoutExpired:
        raise ContentError(f"{item}: OCR took over {settings.timeout_s:g} s and was stopped") from None
    if proc.returncode != 0:
        stderr = proc.stderr.decode(errors="replace")
        err = stderr.strip().splitlines()[-1:] or [""]
        if "Failed loading language" in stderr:
            raise OcrUnavailable(f"tesseract language data missing for {settings.langs!r}: {err[0]}")
        raise ContentError(f"{item}: OCR failed ({err[0][:200]})")
    return _blocks(proc.stdout.decode("utf-8", errors="replace"), scale, settings, frame_time)


def _blocks(tsv: str, scale: float, settings: OcrSettings, frame_time: float | None) -> list[dict]:
    """Group tesseract's word rows into blocks of lines; drop blocks read with low confidence."""
    blocks: dict[tuple[str, str], dict] = {}
    for row in csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE):
        text, conf = (row.get("text") or "").strip(), float(row.get("conf") or -1)
        if row.get("level") != "5" or not text or conf < 0:
            continue
        block = blocks.setdefault((row["page_num"], row["block_num"]), {"lines": {}, "confs": [], "boxes": []})
        block["lines"].setdefault((row["par_num"], row["line_num"]), []).append(text)
        block["confs"].append(conf)
        x, y, w, h = (int(row[k]) for k in ("left", "top", "width", "height"))
        block["boxes"].append((x, y, x + w, y + h))
    out = []
    for block in blocks.values():
        confidence = sum(block["confs"]) / len(block["confs"])
        text = _join_lines([" ".join(words) for words in block["lines"].values()])
        if confidence < settings.min_confidence or len(re.sub(r"\W", "", text)) < 2:
            continue  # picture texture read as letters, or a stray glyph
        x0, y0 = min(b[0] for b in block["boxes"]), min(b[1] for b in block["boxes"])
        x1, y1 = max(b[2] for b in block["boxes"]), max(b[3] for b in block["boxes"])
        box = [round(v / scale) for v in (x0, y0, x1 - x0, y1 - y0)]
        out.append({"text": text, "lang": settings.langs, "box": box, "frame_time": frame_time,
                    "confidence": round(confidence, 1)})
    return out


def _join_lines(lines: list[str]) -> str:
    """One paragraph from wrapped lines, undoing end-of-line hyphenation ("сло-" + "во")."""
    text = ""
    for line in lines:
        if text.endswith("-") and line[:1].islower():
            text = text[:-1] + line
        else:
            text = f"{text} {line}".strip()
    return text


def _key(text: str) -> str:
    return re.sub(r"\W+", " ", text.casefold()).strip()


def _same_text(a: str, b: str) -> bool:
    ka, kb = _key(a), _key(b)
    return ka == kb or SequenceMatcher(None, ka, kb).ratio() >= SAME_TEXT


def dedupe(blocks: list[dict]) -> list[dict]:
    """Drop blocks whose text was already read (subtitles shown over several sampled frames)."""
    kept: list[dict] = []
    for block in blocks:
        if any(_same_text(block["text"], k["text"]) for k in kept):
            continue
        kept.append(block)
    return kept


class OcrExtractor:
    """Extractor (see crossmatch.signals.base.Extractor) filling ``content.derived["ocr"]``.

    Construct once per engine: ``OcrExtractor(settings)``.  Costly, so the engine
    runs it only in the deep pass (nothing decided by exact or PDQ matches) and
    only when ``settings.ocr.enabled``.
    """

    name = "ocr"
    kinds = frozenset({"image", "video"})

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cfg = settings.ocr

    def available(self) -> bool:
        try:
            check_langs(self.cfg.langs)
            return True
        except OcrUnavailable:
            return False

    def extract(self, content: Content) -> None:
        if not self.cfg.enabled or content.kind not in self.kinds or "ocr" in content.derived:
            return
        if content.kind == "image":
            if content.data is None:
                return
            img = open_image(content.data, content.item, self.settings.image, max_side=self.cfg.max_side)
            content.derived["ocr"] = ocr_image(img, self.cfg, content.item)
        else:
            content.derived["ocr"] = self._video(content)

    def _video(self, content: Content) -> list[dict]:
        video_cfg = self.settings.video
        blocks: list[dict] = []
        with video_file(content, video_cfg.max_bytes) as path, tempfile.TemporaryDirectory() as tmp:
            frames = sample_frames(path, content.item, video_cfg, self.cfg.video_every_s, self.cfg.max_video_frames,
                                   Path(tmp))
            for time_s, frame_path in frames:
                with Image.open(frame_path) as frame:
                    blocks.extend(ocr_image(frame.convert("RGB"), self.cfg, content.item, frame_time=time_s))
                frame_path.unlink()
        return dedupe(blocks)


def create(settings: Settings) -> OcrExtractor | None:
    """Entry point (group ``crossmatch.extractors``): None when OCR is off or tesseract/languages are missing."""
    extractor = OcrExtractor(settings)
    return extractor if settings.ocr.enabled and extractor.available() else None
