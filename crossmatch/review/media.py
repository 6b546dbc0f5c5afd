"""Case media previews: kept only when media retention is on, shown blurred by default.

The blurred, greyscale version is made on the server, so a reviewer's browser
never receives clear pixels unless the reviewer asks to reveal them.
"""

from __future__ import annotations

import io
from datetime import datetime
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageOps
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from crossmatch.errors import InvalidInput
from crossmatch.review.models import Case
from crossmatch.settings import Settings
from crossmatch.signals.base import Content, ContentError
from crossmatch.store.models import BankItem

PREVIEW_SIDE = 480  # downscaled: enough to judge, small enough to keep


def media_dir(home: Path) -> Path:
    return home / "review-media"


def make_preview(data: bytes, item: str, max_pixels: int, side: int = PREVIEW_SIDE) -> bytes:
    """A downscaled JPEG of image bytes; raises InvalidInput naming the item if they do not decode."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > max_pixels:
                raise InvalidInput(f"{item}: image has {img.width}x{img.height} pixels, over the preview limit")
            img.draft("RGB", (side, side))  # JPEG: decode at reduced size
            img = ImageOps.exif_transpose(img).convert("RGB")
            img.thumbnail((side, side))
            out = io.BytesIO()
            img.save(out, "JPEG", quality=80)
            return out.getvalue()
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidInput(f"{item}: cannot make a preview ({exc}); the case is kept without media") from None


def make_video_preview(content: Content, settings: Settings, duration: float | None, frames: int = 6) -> bytes:
    """A contact sheet of ``frames`` evenly spaced frames (decoded in the limited child process)."""
    from crossmatch.media.video import sample_frames, video_file  # video extra; only when a video case keeps media

    every = max(1.0, (duration or 12.0) / frames)
    try:
        with tempfile.TemporaryDirectory(prefix="crossmatch-preview-") as tmp, \
                video_file(content, settings.video.max_bytes) as path:
            found = sample_frames(path, content.item, settings.video, every, frames, Path(tmp))
            thumbs = []
            for t, frame in found:
                with Image.open(frame) as img:
                    img = img.convert("RGB")
                    img.thumbnail((240, 180))
                    ImageDraw.Draw(img).text((4, 4), f"{t:.1f}s", fill=(255, 255, 0))
                    thumbs.append(img)
    except (ContentError, OSError) as exc:
        raise InvalidInput(f"{content.item}: cannot make a video preview ({exc}); the case is kept without media") from None
    if not thumbs:
        raise InvalidInput(f"{content.item}: no frames decoded for a preview; the case is kept without media")
    cols = min(3, len(thumbs))
    rows = (len(thumbs) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * 244, rows * 184), (0, 0, 0))
    for i, thumb in enumerate(thumbs):
        sheet.paste(thumb, ((i % cols) * 244 + 2, (i // cols) * 184 + 2))
    out = io.BytesIO()
    sheet.save(out, "JPEG", quality=80)
    return out.getvalue()


def blurred(path: Path, strength: int = 4, greyscale: bool = True) -> bytes:
    """Blurred (and by default greyscale): shapes and layout stay, detail does not.

    ``strength`` 1..10 is the organisation's policy (settings.review.wellness.blur); 4 is the old default.
    """
    with Image.open(path) as img:
        base = ImageOps.grayscale(img) if greyscale else img.convert("RGB")
        radius = max(2 * strength, max(base.size) * strength // 100)
        out = io.BytesIO()
        base.filter(ImageFilter.GaussianBlur(radius)).save(out, "JPEG", quality=70)
        return out.getvalue()


def blurred_cached(path: Path, strength: int = 4, greyscale: bool = True) -> bytes:
    """:func:`blurred`, kept beside the preview (``case-1.jpg`` -> ``case-1.blur4g.jpg``) so a page view
    does not re-blur; it is removed with the preview (:func:`remove_preview`)."""
    cached = path.with_name(f"{path.stem}.blur{strength}{'g' if greyscale else 'c'}{path.suffix}")
    try:
        if cached.stat().st_mtime >= path.stat().st_mtime:
            return cached.read_bytes()
    except OSError:
        pass
    data = blurred(path, strength, greyscale)
    try:
        tmp = cached.with_name(cached.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(cached)  # atomic: a concurrent reader sees the old file or the new one
    except OSError:
        pass  # a read-only folder still serves, just without the cache
    return data


def remove_preview(path: Path) -> None:
    """A kept preview and its cached blurred copies."""
    path.unlink(missing_ok=True)
    for cached in path.parent.glob(f"{path.stem}.blur*{path.suffix}"):
        cached.unlink(missing_ok=True)


def purge_expired(sessions: sessionmaker, home: Path, now: datetime) -> int:
    """Delete kept previews (cases, and bank items in the review media folder) past their expiry."""
    with sessions.begin() as session:
        cases = list(session.scalars(select(Case).where(Case.media_path.is_not(None), Case.media_expires_at <= now)))
        for case in cases:
            remove_preview(Path(case.media_path))
            case.media_path, case.media_expires_at = None, None
        # Bank-item previews kept in the review media folder (e.g. by the demo) expire the same way.
        folder = str(media_dir(home))
        items = list(session.scalars(select(BankItem).where(
            BankItem.media_path.startswith(folder), BankItem.media_expires_at <= now)))
        for item in items:
            remove_preview(Path(item.media_path))
            item.media_path, item.media_expires_at = None, None
        return len(cases) + len(items)
