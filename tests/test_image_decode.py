"""Image decoding: EXIF orientation is applied, so a phone photo stored sideways hashes upright."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from crossmatch.media.image import open_image
from crossmatch.settings import ImageSettings


def _jpeg(img: Image.Image, orientation: int | None) -> bytes:
    buf = io.BytesIO()
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    img.save(buf, "JPEG", quality=95, exif=exif.tobytes())
    return buf.getvalue()


def test_exif_orientation_is_applied_and_upright_files_are_left_alone():
    rng = np.random.default_rng(4)
    upright = Image.fromarray(rng.integers(0, 255, (60, 100, 3), dtype=np.uint8))
    # Orientation 6: the stored pixels must be turned 90° clockwise to display, as a phone writes them.
    stored_sideways = upright.transpose(Image.Transpose.ROTATE_90)
    decoded = open_image(_jpeg(stored_sideways, 6), "sideways.jpg", ImageSettings())
    assert decoded.size == (100, 60)
    plain = open_image(_jpeg(upright, 1), "upright.jpg", ImageSettings())
    assert plain.size == (100, 60)
    no_exif = open_image(_jpeg(upright, None), "no-exif.jpg", ImageSettings())
    assert no_exif.size == (100, 60)
    # Same pixels up to JPEG noise: the rotation went the right way, not just the size.
    diff = np.abs(np.asarray(decoded, dtype=int) - np.asarray(plain, dtype=int)).mean()
    assert diff < 12
