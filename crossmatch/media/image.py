"""Safe image decoding for hashing.

Hostile images are common in this field (decompression bombs, truncated files,
non-images with image extensions), so every decode checks size limits from the
header before any pixel is read, and failures become ContentError naming the item.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from crossmatch.settings import ImageSettings
from crossmatch.signals.base import ContentError

SMALL_IMAGE_PIXELS = 16_000_000  # below this, any compression ratio is cheap enough to decode


_EXIF_ORIENTATION = 0x0112


def open_image(data: bytes, item: str, settings: ImageSettings, max_side: int | None = None) -> Image.Image:
    """Decode ``data`` into an RGB image, refusing oversize and broken input.

    ``max_side`` lets JPEG decode at reduced size (libjpeg DCT scaling), which is
    several times faster and changes a PDQ hash by only a few bits.
    """
    if not data:
        raise ContentError(f"{item}: empty file (0 bytes)")
    if len(data) > settings.max_bytes:
        raise ContentError(f"{item}: file is {len(data)} bytes, over the {settings.max_bytes}-byte limit")
    try:
        with warnings.catch_warnings():
            # We enforce our own pixel limit below; keep Pillow's bomb warning from leaking out.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            width, height = img.size
            if width * height > settings.max_pixels:
                raise ContentError(
                    f"{item}: image is {width}x{height} = {width * height} pixels, over the "
                    f"{settings.max_pixels}-pixel limit (possible decompression bomb); raise "
                    "image.max_pixels only for trusted input"
                )
            pixels_per_byte = width * height / len(data)
            if width * height > SMALL_IMAGE_PIXELS and pixels_per_byte > settings.max_pixels_per_byte:
                # Decoding costs per pixel: a huge canvas in a tiny file (a 46 KB 7000x7000 PNG took 8 s)
                # is a cost bomb, not a picture; real photos store far more than a byte per 100 pixels.
                raise ContentError(
                    f"{item}: image is {width}x{height} pixels in only {len(data)} bytes ({pixels_per_byte:.0f} pixels "
                    f"per byte, over image.max_pixels_per_byte={settings.max_pixels_per_byte}); refused as a "
                    "decompression bomb: it was not checked")
            if max_side and img.format == "JPEG" and max(width, height) > max_side:
                # draft() keeps both sides >= the request, so ask for the aspect-correct target.
                scale = max_side / max(width, height)
                img.draft("RGB", (max(1, int(width * scale)), max(1, int(height * scale))))
            img.load()
            if img.getexif().get(_EXIF_ORIENTATION, 1) != 1:  # exif_transpose copies even when upright
                img = ImageOps.exif_transpose(img)
            if img.mode != "RGB":
                img = _to_rgb(img)
            return img
    except ContentError:
        raise
    except Image.DecompressionBombError as exc:
        raise ContentError(f"{item}: refused as a decompression bomb ({exc})") from None
    except UnidentifiedImageError:
        raise ContentError(f"{item}: not an image, or an unsupported image format") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ContentError(f"{item}: corrupt or truncated image ({exc})") from None


def _to_rgb(img: Image.Image) -> Image.Image:
    # Drop alpha rather than flatten it: python-threatexchange and HMA hash the colour
    # channels as stored, and a shared hash must match theirs for transparent images.
    return img.convert("RGB")


def downscale(img: Image.Image, max_side: int) -> Image.Image:
    """Shrink so the longer side is at most ``max_side`` (PDQ works at 64x64 internally)."""
    if max(img.size) <= max_side:
        return img
    out = img.copy()
    out.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return out


def trim_borders(img: Image.Image, tolerance: float = 8.0, max_trim: float = 0.4) -> Image.Image:
    """Remove flat letterbox/pillarbox borders of any colour (see :func:`content_box`)."""
    box = content_box(img, tolerance, max_trim)
    return img if box == (0, 0, img.width, img.height) else img.crop(box)


def content_box(
    img: Image.Image, tolerance: float = 6.0, max_trim: float = 0.4, min_band: float = 0.03
) -> tuple[int, int, int, int]:
    """The (left, top, right, bottom) box left after removing flat borders.

    Bands thinner than ``min_band`` of the dimension are kept: a slow gradient
    at an edge is picture, a letterbox is a band of real width.

    A row or column is border when it is nearly uniform and close to the edge
    colour.  At most ``max_trim`` of each dimension is removed, so a flat image
    is left alone rather than trimmed to nothing.
    """
    grey = np.asarray(img.convert("L"), dtype=np.float32)
    h, w = grey.shape
    if h < 8 or w < 8:
        return (0, 0, w, h)

    def flat_run(lines: np.ndarray, limit: int) -> int:
        """Length of the border run at the start of ``lines`` (0 if shorter than the minimum band).

        Lines are tested in blocks of the minimum band's length, because a run shorter than that
        counts as picture: an ordinary photo is settled after one block, not a pass over every line.
        """
        edge_value = float(np.median(lines[0]))
        need = max(1, int(np.ceil(min_band * len(lines))))
        n = 0
        while n < limit:
            block = lines[n : min(n + need, limit)]
            is_flat = (block.std(axis=1) < tolerance) & (np.abs(block.mean(axis=1) - edge_value) < tolerance)
            if not is_flat.all():
                n += int(np.argmin(is_flat))
                break
            n += len(block)
        return n if n >= min_band * len(lines) else 0

    top = flat_run(grey, int(h * max_trim))
    bottom = flat_run(grey[::-1], int(h * max_trim))
    left = flat_run(grey.T, int(w * max_trim))
    right = flat_run(grey.T[::-1], int(w * max_trim))
    return (left, top, w - right, h - bottom)


def caption_band_boxes(
    img: Image.Image, background_share: float = 0.6, tolerance: float = 24.0, min_band: float = 0.05, max_band: float = 0.45
) -> list[tuple[str, tuple[int, int, int, int]]]:
    """Boxes left after removing a meme-style caption band at the top, the bottom, or both.

    A caption band is a run of full-width rows mostly of one background colour
    (the text covers the rest), unlike :func:`content_box`'s perfectly flat bars.
    A picture whose own edge is plain looks like a band too, so each side is
    offered alone as well as together; bands thinner than ``min_band`` are kept.
    """
    grey = np.asarray(img.convert("L"), dtype=np.float32)
    h, w = grey.shape
    if h < 16 or w < 16:
        return []

    def band(rows: np.ndarray) -> int:
        background = float(np.median(rows[0]))
        share = (np.abs(rows - background) < tolerance).mean(axis=1)
        n = 0
        limit = int(h * max_band)
        while n < limit and share[n] >= background_share:
            n += 1
        return n if n >= min_band * h else 0

    top, bottom = band(grey), band(grey[::-1])
    boxes = {"top": (0, top, w, h), "bottom": (0, 0, w, h - bottom), "both": (0, top, w, h - bottom)}
    seen: set[tuple[int, int, int, int]] = {(0, 0, w, h)}
    out = []
    for name, box in boxes.items():
        if box not in seen and box[3] - box[1] > h // 4:
            seen.add(box)
            out.append((name, box))
    return out
