"""Issue 15 finding 8: a tiny file with a huge canvas (a 7000x7000 PNG of a few KB) is refused
from its header as a cost bomb, and the answer says the item was not checked."""

from __future__ import annotations

import io

from PIL import Image

from crossmatch.samples import make_poster, to_bytes
from test_api_support import api  # noqa: F401  (fixture)


def flat_png(side: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (side, side), 200).save(buf, "PNG")
    return buf.getvalue()


def test_a_7000_pixel_flat_png_is_refused_before_decoding(api):  # noqa: F811
    data = flat_png(7000)
    assert len(data) < 100_000
    r = api.client.post("/api/v1/lookup", files={"file": ("bomb.png", data, "image/png")}, headers=api.h("matcher"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["complete"] is False and "max_pixels_per_byte" in out["error"]
    # An ordinary picture still goes through.
    poster = to_bytes(make_poster(3), "PNG")
    r = api.client.post("/api/v1/lookup", files={"file": ("poster.png", poster, "image/png")}, headers=api.h("matcher"))
    assert r.status_code == 200 and r.json()["complete"] is True, r.text
