"""OCR evaluation: FLORES-200 devtest sentences rendered into images (caption over a photo,
poster, meme band) with Debian fonts; character error rate per language and layout; and,
when the text_xling signal type is installed, recall of the OCR text against a text bank
of the Arabic (arb_Arab) originals of the same sentences.

    .venv/bin/python eval/ocr.py [--data ../shared/evaldata] [--n 20] [--langs rus_Cyrl,kaz_Cyrl,uzn_Latn]
                                 [--tess-langs rus+ara+kaz+uzb+tgk+eng] [--smoke]

Sentences are taken from the end of the devtest file (the first ones are used in tests).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from crossmatch.media.fonts import caption_image, meme_image, poster_image  # noqa: E402
from crossmatch.media.ocr import ocr_image  # noqa: E402
from crossmatch.settings import Settings  # noqa: E402

LAYOUTS = ("poster", "caption", "meme")


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def norm(text: str) -> str:
    # CER on words and letters: case and spacing differences are not reading errors.
    return re.sub(r"\s+", " ", text.replace("«", '"').replace("»", '"')).strip()


def render(layout: str, sentence: str, photo: Image.Image) -> Image.Image:
    if layout == "poster":
        return poster_image(sentence)
    if layout == "caption":
        return caption_image(photo.resize((960, 720)), sentence, size=30)
    return meme_image(photo, sentence)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "evaldata")
    ap.add_argument("--n", type=int, default=20, help="sentences per language")
    ap.add_argument("--langs", default="rus_Cyrl,kaz_Cyrl,uzn_Latn")
    ap.add_argument("--tess-langs", default=None, help="tesseract languages (default: settings.ocr.langs)")
    ap.add_argument("--smoke", action="store_true", help="2 sentences, one language")
    args = ap.parse_args()
    if args.smoke:
        args.n, args.langs = 2, "rus_Cyrl"
    settings = Settings()
    if args.tess_langs:
        settings.ocr.langs = args.tess_langs
    flores = args.data / "flores200-devtest"
    photos = sorted((args.data / "imagededup-ukbench-tests" / "base_images").glob("*.jpg"))
    arabic = (flores / "arb_Arab.devtest").read_text(encoding="utf-8").splitlines()
    total = len(arabic)
    picks = list(range(total - args.n, total))
    results: dict = {"tesseract_langs": settings.ocr.langs, "n_per_lang": args.n, "cer": {}, "seconds_per_image": {}}
    ocr_texts: dict[str, list[tuple[int, str]]] = {}
    for lang in args.langs.split(","):
        lines = (flores / f"{lang}.devtest").read_text(encoding="utf-8").splitlines()
        for layout in LAYOUTS:
            errs = chars = 0
            t0 = time.perf_counter()
            for k, i in enumerate(picks):
                with Image.open(photos[k % len(photos)]) as ph:
                    img = render(layout, lines[i], ph.convert("RGB"))
                blocks = ocr_image(img, settings.ocr, f"{lang}-{layout}-{i}")
                read = " ".join(b["text"] for b in blocks)
                if layout == "meme":  # the band is the text; the photo below may add stray glyphs
                    band = img.height - ph.height
                    read = " ".join(b["text"] for b in blocks if b["box"][1] < band)
                errs += edit_distance(norm(read), norm(lines[i]))
                chars += len(norm(lines[i]))
                ocr_texts.setdefault(f"{lang}/{layout}", []).append((i, read))
            results["cer"][f"{lang}/{layout}"] = round(errs / chars, 4)
            results["seconds_per_image"][f"{lang}/{layout}"] = round((time.perf_counter() - t0) / len(picks), 2)
    if not args.smoke:
        results["video_subtitles"] = video_subtitles(args.data, settings, flores)
    results["xling"] = xling_recall(settings, arabic, picks, ocr_texts)
    print(json.dumps(results, indent=1, ensure_ascii=False))


def video_subtitles(data: Path, settings: Settings, flores: Path) -> dict:
    """Burn three Russian subtitles (2 s each) into a ThreatExchange sample video; read them back."""
    import io

    import av
    import numpy as np

    from crossmatch.media.ocr import OcrExtractor
    from crossmatch.signals.base import Content

    lines = (flores / "rus_Cyrl.devtest").read_text(encoding="utf-8").splitlines()[-6:-3]
    src = data / "threatexchange-pdq-vpdq-tmk" / "sample-videos" / "pattern-hd-no-bar.mp4"
    buf = io.BytesIO()
    with av.open(str(src)) as inp, av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 540, 960, "yuv420p"
        for frame in inp.decode(video=0):
            t = float(frame.time or 0)
            if t >= 6:
                break
            img = caption_image(frame.to_image().resize((540, 960)), lines[min(2, int(t // 2))], size=30)
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.asarray(img), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    content = Content("subtitled.mp4", "video", data=buf.getvalue())
    t0 = time.perf_counter()
    OcrExtractor(settings).extract(content)
    blocks = content.derived["ocr"]
    cers = []
    for k, line in enumerate(lines):
        # each subtitle's best-matching block among those first seen in its 2 s window
        window = [b for b in blocks if b["frame_time"] is not None and 2 * k - 0.1 <= b["frame_time"] < 2 * k + 2]
        best = min((edit_distance(norm(b["text"]), norm(line)) for b in window), default=len(norm(line)))
        cers.append(round(best / len(norm(line)), 4))
    return {"seconds": 6, "sampled_every_s": settings.ocr.video_every_s, "blocks": len(blocks),
            "subtitle_cer": cers, "wall_s": round(time.perf_counter() - t0, 1),
            "texts": [[b["frame_time"], b["text"][:80]] for b in blocks]}


def xling_recall(settings: Settings, arabic: list[str], picks: list[int], ocr_texts) -> dict:
    """OCR text vs a bank of the Arabic originals through the text_xling signal type, if installed."""
    try:
        from crossmatch.signals.base import Content
        from crossmatch.signals.registry import SignalRegistry

        xling = SignalRegistry.from_entry_points(settings, only=["text_xling"]).get("text_xling")
    except Exception as exc:  # noqa: BLE001 - report why the cross-language part was skipped
        return {"skipped": f"text_xling unavailable: {exc}"}
    index, table = xling.brute_force_index(), {}
    # The bank: the Arabic originals of the rendered sentences plus 100 other Arabic sentences as distractors.
    for i in list(range(100)) + picks:
        for s in xling.hash(Content(f"arb-{i}", "text", text=arabic[i])):
            sid = len(table) + 1
            table[sid] = (i, s)
            index.add([(sid, s)])
    lookup = lambda ids: {j: table[j] for j in ids}  # noqa: E731
    out = {}
    for key, reads in ocr_texts.items():
        hits = 0
        for i, text in reads:
            content = Content(f"ocr-{key}-{i}", "image", derived={"ocr": [{"text": text}]})
            signals = xling.hash_deep(content) if hasattr(xling, "hash_deep") else xling.hash(content)
            found = {table[c.signal_ids[0]][0] for c in xling.match(signals, index, xling.default_threshold, lookup)}
            hits += i in found
        out[key] = f"{hits}/{len(reads)}"
    out["bank"] = f"{len(picks)} Arabic originals + 100 Arabic distractors, threshold {xling.default_threshold}"
    return out


if __name__ == "__main__":
    main()
