"""Seeded edit families for eval/images_edits.py (evaluation-only transformations of benign photos).

Each family is ``edit(img, rng, backdrop) -> img``; ``backdrop`` is an unrelated photo
for picture-in-picture.  Parameters are drawn from ``rng`` so a seed gives the same pixels.
"""

from __future__ import annotations

import io
import random
from typing import Callable

from PIL import Image, ImageDraw, ImageFont

_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
_WORDS = "the ferry leaves every forty minutes and the last crossing is at nine in the evening".split()


def _font(size: int):
    try:
        return ImageFont.truetype(_FONT, size)
    except OSError:
        return ImageFont.load_default(size)


def _crop(img: Image.Image, fx: float, fy: float, ax: float, ay: float) -> Image.Image:
    """Remove fx of the width and fy of the height, ax / ay of it from the left / top."""
    w, h = img.size
    left, top = round(w * fx * ax), round(h * fy * ay)
    return img.crop((left, top, left + round(w * (1 - fx)), top + round(h * (1 - fy))))


def crop_centre(img, rng, backdrop):
    f = rng.uniform(0.05, 0.40)
    return _crop(img, f, f, 0.5, 0.5)


def crop_offcentre(img, rng, backdrop):
    return _crop(img, rng.uniform(0.05, 0.40), rng.uniform(0.05, 0.40), rng.random(), rng.random())


def rotate_small(img, rng, backdrop):
    angle = rng.uniform(1, 30) * rng.choice([-1, 1])
    fill = rng.choice([(0, 0, 0), (255, 255, 255), (128, 128, 128)])
    return img.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=fill)


def rotate_90(img, rng, backdrop):
    return img.rotate(rng.choice([90, 180, 270]), expand=True)


def mirror_crop(img, rng, backdrop):
    flipped = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return _crop(flipped, rng.uniform(0.05, 0.30), rng.uniform(0.05, 0.30), rng.random(), rng.random())


def _sticker(draw: ImageDraw.ImageDraw, box, rng) -> None:
    x0, y0, x1, y1 = box
    kind = rng.choice(["smiley", "heart", "label"])
    if kind == "smiley":
        draw.ellipse(box, fill=(255, 204, 0), outline=(120, 80, 0), width=3)
        w, h = x1 - x0, y1 - y0
        for ex in (0.32, 0.62):
            draw.ellipse((x0 + w * ex, y0 + h * 0.3, x0 + w * (ex + 0.08), y0 + h * 0.42), fill=(40, 30, 20))
        draw.arc((x0 + w * 0.25, y0 + h * 0.35, x0 + w * 0.75, y0 + h * 0.78), 20, 160, fill=(40, 30, 20), width=4)
    elif kind == "heart":
        w, h = x1 - x0, y1 - y0
        draw.ellipse((x0, y0, x0 + w * 0.55, y0 + h * 0.55), fill=(230, 30, 60))
        draw.ellipse((x0 + w * 0.45, y0, x1, y0 + h * 0.55), fill=(230, 30, 60))
        draw.polygon([(x0 + w * 0.03, y0 + h * 0.38), (x1 - w * 0.03, y0 + h * 0.38), (x0 + w * 0.5, y1)], fill=(230, 30, 60))
    else:
        colour = tuple(rng.randrange(0, 256) for _ in range(3))
        draw.rounded_rectangle(box, radius=12, fill=colour)
        text = " ".join(rng.sample(_WORDS, 2)).upper()
        draw.text((x0 + 8, y0 + (y1 - y0) // 3), text, fill=(255, 255, 255), font=_font(max(10, (y1 - y0) // 4)))


def sticker(img, rng, backdrop):
    """One to three stickers covering 10-25% of the picture, anywhere."""
    out = img.copy()
    draw = ImageDraw.Draw(out)
    w, h = out.size
    n = rng.choice([1, 1, 2, 3])
    share = rng.uniform(0.10, 0.25) / n
    for _ in range(n):
        aspect = rng.uniform(0.7, 1.4)
        sw = int((share * w * h * aspect) ** 0.5)
        sh = int(share * w * h / max(1, sw))
        sw, sh = min(sw, w - 1), min(sh, h - 1)
        x0, y0 = rng.randrange(0, w - sw), rng.randrange(0, h - sh)
        _sticker(draw, (x0, y0, x0 + sw, y0 + sh), rng)
    return out


def screenshot(img, rng, backdrop):
    """A social-media post: app bar, avatar, text, the picture, action icons; then the whole page scaled."""
    dark = rng.random() < 0.3
    bg, fg = ((21, 32, 43), (230, 230, 230)) if dark else ((255, 255, 255), (20, 20, 20))
    page_w = rng.choice([720, 1080, 1242])
    pic_w = int(page_w * rng.uniform(0.82, 0.94))
    pic = img.resize((pic_w, max(1, round(img.height * pic_w / img.width))))
    text_h = rng.randrange(60, 220)
    page_h = 110 + 70 + text_h + pic.height + 140
    page = Image.new("RGB", (page_w, page_h), bg)
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 0, page_w, 100), fill=(29, 161, 242) if rng.random() < 0.5 else (60, 90, 150))
    draw.ellipse((20, 120, 80, 180), fill=(150, 150, 160))
    draw.text((95, 125), "Some Account @account", fill=fg, font=_font(26))
    y = 195
    while y < 180 + text_h:
        draw.text((24, y), " ".join(rng.sample(_WORDS, 6)), fill=fg, font=_font(24))
        y += 34
    left = (page_w - pic_w) // 2
    page.paste(pic, (left, 190 + text_h))
    for i in range(4):
        cx = 60 + i * (page_w - 120) // 3
        draw.ellipse((cx - 16, page_h - 90, cx + 16, page_h - 58), outline=fg, width=3)
    scale = rng.choice([0.5, 0.75, 1.0])
    return page.resize((max(1, int(page_w * scale)), max(1, int(page_h * scale))))


def picture_in_picture(img, rng, backdrop):
    """The picture scaled to 30-55% of an unrelated photo's width and pasted onto it (the photo
    enlarged to 1000 px wide first if smaller, so the picture keeps at least 300 px)."""
    out = backdrop.copy()
    if out.width < 1000:
        out = out.resize((1000, max(1, round(out.height * 1000 / out.width))), Image.Resampling.BICUBIC)
    w = int(out.width * rng.uniform(0.30, 0.55))
    pic = img.resize((w, max(1, round(img.height * w / img.width))))
    if pic.height > out.height * 0.9:
        pic = pic.resize((max(1, round(pic.width * out.height * 0.9 / pic.height)), int(out.height * 0.9)))
    out.paste(pic, (rng.randrange(0, out.width - pic.width + 1), rng.randrange(0, out.height - pic.height + 1)))
    return out


def caption(img, rng, backdrop):
    """A meme caption band (top, bottom or both) of 12-30% of the height, with text."""
    w, h = img.size
    bands = rng.choice([("top",), ("bottom",), ("top", "bottom")])
    band = int(h * rng.uniform(0.12, 0.30))
    colour, ink = rng.choice([((255, 255, 255), (0, 0, 0)), ((0, 0, 0), (255, 255, 255))])
    out = Image.new("RGB", (w, h + band * len(bands)), colour)
    out.paste(img, (0, band if "top" in bands else 0))
    draw = ImageDraw.Draw(out)
    for side in bands:
        y = 0 if side == "top" else out.height - band
        draw.text((w // 20, y + band // 4), " ".join(rng.sample(_WORDS, 4)).upper(), fill=ink, font=_font(max(10, band // 3)))
    return out


def resize_25(img, rng, backdrop):
    return img.resize((max(1, img.width // 4), max(1, img.height // 4)), Image.Resampling.BILINEAR)


def jpeg_20(img, rng, backdrop):
    out = io.BytesIO()
    img.save(out, "JPEG", quality=20)
    return Image.open(io.BytesIO(out.getvalue())).convert("RGB")


Edit = Callable[[Image.Image, random.Random, Image.Image], Image.Image]
SINGLE: dict[str, Edit] = {
    "crop_centre": crop_centre, "crop_offcentre": crop_offcentre, "rotate_1_30": rotate_small,
    "rotate_90s": rotate_90, "mirror_crop": mirror_crop, "sticker": sticker, "screenshot": screenshot,
    "picture_in_picture": picture_in_picture, "caption": caption, "resize_25": resize_25, "jpeg_20": jpeg_20,
}


def combo(img, rng, backdrop):
    """Two different single edits in a row (the second is never a second backdrop paste)."""
    first, second = rng.sample(sorted(SINGLE), 2)
    return SINGLE[second](SINGLE[first](img, rng, backdrop), rng, backdrop)


FAMILIES: dict[str, Edit] = {**SINGLE, "combination_of_two": combo}
