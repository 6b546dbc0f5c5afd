"""Case media previews: kept only when media retention is on, shown blurred by default.

The blurred, greyscale version is made on the server, so a reviewer's browser
never receives clear pixels unless the reviewer asks to reveal them.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageFilter, ImageOps

from crossmatch.errors import InvalidInput

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


def blurred(path: Path) -> bytes:
    """Greyscale and strongly blurred: shapes and layout stay, detail does not."""
    with Image.open(path) as img:
        grey = ImageOps.grayscale(img)
        radius = max(8, max(grey.size) // 25)
        out = io.BytesIO()
        grey.filter(ImageFilter.GaussianBlur(radius)).save(out, "JPEG", quality=70)
        return out.getvalue()
