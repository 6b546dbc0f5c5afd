"""System fonts (Debian's fonts-dejavu-core / fonts-noto-core) and text-image rendering
for tests, evaluations and benchmarks: captions, posters and meme bands made from
benign sentences, so OCR is measured on pictures whose words are known.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = (Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts/opentype"), Path("/usr/local/share/fonts"))
# Preferred files per style; the first one found wins.
FONTS = {
    "sans": ("noto/NotoSans-Regular.ttf", "dejavu/DejaVuSans.ttf"),
    "sans-bold": ("noto/NotoSans-Bold.ttf", "dejavu/DejaVuSans-Bold.ttf"),
    "serif": ("noto/NotoSerif-Regular.ttf", "dejavu/DejaVuSerif.ttf"),
    "arabic": ("noto/NotoNaskhArabic-Regular.ttf", "noto/NotoSansArabic-Regular.ttf"),
}


class FontMissing(LookupError):
    pass


def font_path(style: str = "sans") -> Path:
    """The installed file for ``style``; raises FontMissing naming the Debian packages to install."""
    for rel in FONTS[style]:
        for base in FONT_DIRS:
            if (base / rel).is_file():
                return base / rel
    raise FontMissing(f"no {style!r} font found; install fonts-noto-core or fonts-dejavu-core")


def fonts_available(style: str = "sans") -> bool:
    try:
        font_path(style)
        return True
    except FontMissing:
        return False


def wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Greedy word wrap to ``width`` pixels."""
    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for word in para.split():
            trial = f"{line} {word}".strip()
            if line and font.getlength(trial) > width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    return [ln for ln in lines if ln] or textwrap.wrap(text, 40)


def draw_block(img: Image.Image, text: str, box: tuple[int, int, int, int], size: int, style: str = "sans",
               fill=(0, 0, 0), outline=None, align: str = "center") -> None:
    """Draw wrapped ``text`` inside ``box`` (x, y, w, h), vertically centred, optionally outlined (subtitle look)."""
    font = ImageFont.truetype(str(font_path(style)), size)
    x, y, w, h = box
    lines = wrap(text, font, w - size)
    line_h = int(size * 1.3)
    top = y + max(0, (h - line_h * len(lines)) // 2)
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        lw = font.getlength(line)
        lx = x + (w - lw) / 2 if align == "center" else x + size / 2
        kw = {"stroke_width": max(1, size // 12), "stroke_fill": outline} if outline else {}
        draw.text((lx, top + i * line_h), line, font=font, fill=fill, **kw)


def caption_image(picture: Image.Image, text: str, size: int = 28) -> Image.Image:
    """A burnt-in subtitle: white outlined text over the bottom of the picture."""
    img = picture.convert("RGB").copy()
    w, h = img.size
    draw_block(img, text, (0, int(h * 0.68), w, int(h * 0.3)), size, "sans-bold", (255, 255, 255), (0, 0, 0))
    return img


def poster_image(text: str, size: tuple[int, int] = (900, 600), font_size: int = 34,
                 background=(245, 240, 225), style: str = "serif") -> Image.Image:
    """Dark text on a flat background, like a leaflet or a screenshot of a post."""
    img = Image.new("RGB", size, background)
    draw_block(img, text, (20, 20, size[0] - 40, size[1] - 40), font_size, style, (20, 20, 30))
    return img


def meme_image(picture: Image.Image, text: str, band: int = 160, font_size: int = 30) -> Image.Image:
    """A white caption band above the picture (AugLy's meme_format layout)."""
    pic = picture.convert("RGB")
    font = ImageFont.truetype(str(font_path("sans-bold")), font_size)
    band = max(band, len(wrap(text, font, pic.width - font_size)) * int(font_size * 1.3) + font_size)
    img = Image.new("RGB", (pic.width, pic.height + band), (255, 255, 255))
    img.paste(pic, (0, band))
    draw_block(img, text, (0, 0, pic.width, band), font_size, "sans-bold", (0, 0, 0))
    return img
