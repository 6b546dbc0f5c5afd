"""Evidence in plain words: the one place every review view (case page, JSON, reports) reads it from.

A reviewer needs "Mirrored copy of the bank image, 16 of 256 bits differ
(limit 31)", not ``query_meta: variant: mirrored``.  :func:`describe` turns one
stored match into a sentence, a strength on one scale shared by all signal
types, the raw figures (for the details toggle), aligned text passages with
their language and direction, and a video's matched time ranges.
:func:`cards` groups the matches of a case by bank item: one card per item,
listing the signal types that agree.

Unknown signal types still get a sentence (their type and figures), so a new
signal type shows up without a change here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

# Language names for the codes the text types emit (ISO 639-1 / -3); others show as their code.
LANGUAGES = {
    "ar": "Arabic", "de": "German", "en": "English", "es": "Spanish", "fa": "Persian", "fr": "French",
    "he": "Hebrew", "hi": "Hindi", "id": "Indonesian", "it": "Italian", "ku": "Kurdish", "ckb": "Central Kurdish",
    "ms": "Malay", "nl": "Dutch", "ps": "Pashto", "pt": "Portuguese", "ru": "Russian", "so": "Somali",
    "sd": "Sindhi", "sv": "Swedish", "tk": "Turkmen", "tr": "Turkish", "uk": "Ukrainian", "ur": "Urdu",
    "ug": "Uyghur", "uz": "Uzbek", "yi": "Yiddish", "zh": "Chinese", "bn": "Bengali", "am": "Amharic",
    "ha": "Hausa", "sw": "Swahili", "tl": "Tagalog", "dv": "Dhivehi",
}
RTL = {"ar", "fa", "he", "ps", "sd", "ug", "ur", "yi", "dv", "ckb", "arz", "apc", "acm", "ary", "arb", "pes", "prs", "urd", "heb"}
EXACT_TYPES = {"md5": "MD5", "sha256": "SHA-256", "sha512": "SHA-512", "video_md5": "MD5 of the video file"}
KIND_NAMES = {
    "md5": "Exact file", "sha256": "Exact file", "sha512": "Exact file", "video_md5": "Exact video file",
    "pdq": "Picture fingerprint (PDQ)", "keypoints": "Picture landmarks (keypoints)", "vpdq": "Video frames (vPDQ)",
    "text_near": "Near-identical text", "text_xling": "Same text in another language", "url": "Same web address",
}
VARIANTS = {
    "original": "Same picture as the bank image",
    "mirrored": "Mirrored copy of the bank image",
    "flipped_upside_down": "Upside-down copy of the bank image",
    "rotated_90_clockwise": "Copy of the bank image turned a quarter turn",
    "rotated_90_counterclockwise": "Copy of the bank image turned a quarter turn",
    "rotated_180": "Copy of the bank image turned upside down (180°)",
    "transposed": "Copy of the bank image turned and mirrored",
    "transversed": "Copy of the bank image turned and mirrored",
    "trimmed": "The bank image with borders added (it matched once the borders were cut off)",
    "caption-removed": "The bank image with a caption band added (matched with the band cut off)",
}
QUERY_REGIONS = {
    "embedded": "The bank image appears as a picture inside the upload",
    "grid:top": "The top two-thirds of the upload match the bank image (something covers the rest)",
    "grid:bottom": "The bottom two-thirds of the upload match the bank image (something covers the rest)",
    "grid:left": "The left two-thirds of the upload match the bank image (something covers the rest)",
    "grid:right": "The right two-thirds of the upload match the bank image (something covers the rest)",
}
STRENGTH_WORDS = ((0.9, "very strong"), (0.72, "strong"), (0.58, "moderate"), (0.0, "weak (near the limit)"))


def language_name(code: str | None) -> str:
    if not code:
        return "unknown language"
    return LANGUAGES.get(str(code).split("-")[0].lower(), str(code))


def direction(code: str | None) -> str:
    """``rtl`` for right-to-left scripts (Arabic, Persian, Hebrew, Urdu...), else ``ltr``."""
    return "rtl" if code and str(code).split("-")[0].lower() in RTL else "ltr"


def strength_word(strength: float) -> str:
    """One scale for every signal type: 0.5 is the type's limit, 1 an exact copy (see evidence.strength_of)."""
    return next(word for floor, word in STRENGTH_WORDS if strength >= floor)


def clock(seconds: float | int | None) -> str:
    """0:03, 1:02:05: how a video player shows a time."""
    if not isinstance(seconds, (int, float)):
        return "?"
    s = int(round(float(seconds)))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() else f"{value:.3g}"
    return str(value)


def _pct(value: Any) -> str:
    return f"{float(value) * 100:.0f}%" if isinstance(value, (int, float)) else "?"


@dataclass
class Passage:
    """One aligned pair of passages: the upload's and the bank's (text when kept, else a curator summary)."""

    query_text: str | None
    query_lang: str | None
    bank_text: str | None
    bank_lang: str | None
    bank_where: str  # "sentence 2" when the bank keeps no text

    @property
    def query_dir(self) -> str:
        return direction(self.query_lang)

    @property
    def bank_dir(self) -> str:
        return direction(self.bank_lang)


@dataclass
class Plain:
    signal_type: str
    kind_name: str
    sentence: str
    strength: float
    strength_word: str
    raw: list[tuple[str, str]] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    # Video: [(bank_start, bank_end, query_start, query_end)] in seconds, for the player's timeline marks.
    ranges: list[tuple[float, float, float, float]] = field(default_factory=list)
    boxes: dict[str, list] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"signal_type": self.signal_type, "kind": self.kind_name, "sentence": self.sentence,
                "strength": self.strength, "strength_word": self.strength_word}


@dataclass
class Card:
    """Every match of a case against one bank item."""

    bank: str
    bank_item_id: int
    bank_item: str
    labels: dict[str, Any]
    evidence: list[Plain]

    @property
    def strength(self) -> float:
        return max(e.strength for e in self.evidence)

    @property
    def strength_word(self) -> str:
        return strength_word(self.strength)

    @property
    def kinds(self) -> list[str]:
        """The kinds of evidence that agree, each named once (md5 + sha256 + sha512 = one 'Exact file')."""
        seen: list[str] = []
        for e in self.evidence:
            if e.kind_name not in seen:
                seen.append(e.kind_name)
        return seen

    @property
    def headline(self) -> Plain:
        return max(self.evidence, key=lambda e: e.strength)

    @property
    def summary(self) -> str | None:
        """A curator's summary of the bank item (label ``summary``), e.g. an English gist of an Arabic text."""
        value = self.labels.get("summary")
        return str(value) if value else None


def cards(matches: Iterable[Any], case_kind: str = "") -> list[Card]:
    """One card per bank item, strongest first; exact hashes of one file collapse into one line."""
    grouped: dict[tuple[str, int], Card] = {}
    for m in matches:
        key = (m.bank, m.bank_item_id)
        card = grouped.get(key)
        if card is None:
            card = grouped[key] = Card(m.bank, m.bank_item_id, m.bank_item, dict(m.item_labels or {}), [])
        card.evidence.append(describe(m, case_kind))
    for card in grouped.values():
        card.evidence = _merge_exact(card.evidence)
        card.evidence.sort(key=lambda e: -e.strength)
    return sorted(grouped.values(), key=lambda c: (-c.strength, c.bank, c.bank_item))


def _merge_exact(evidence: list[Plain]) -> list[Plain]:
    exact = [e for e in evidence if e.signal_type in ("md5", "sha256", "sha512")]
    if len(exact) < 2:
        return evidence
    names = ", ".join(EXACT_TYPES[e.signal_type] for e in exact)
    merged = Plain("+".join(e.signal_type for e in exact), "Exact file",
                   f"Byte-for-byte the same file as the bank item ({names} all equal)", 1.0, strength_word(1.0),
                   [pair for e in exact for pair in e.raw])
    return [merged] + [e for e in evidence if e not in exact]


def describe(m: Any, case_kind: str = "") -> Plain:
    """The plain-language reading of one stored match (a CaseMatch or anything with its fields)."""
    ev = dict(m.evidence or {})
    kind = KIND_NAMES.get(m.signal_type, f"Signal type {m.signal_type}")
    strength = float(m.strength or 0.0)
    raw = _raw(m, ev)
    out = Plain(m.signal_type, kind, "", strength, strength_word(strength), raw)
    writer = WRITERS.get(m.signal_type, _generic)
    out.sentence = writer(m, ev, out, case_kind)
    return out


# -- one writer per signal type --------------------------------------------------
def _exact(m, ev, out, case_kind) -> str:
    return f"Byte-for-byte the same file as the bank item ({EXACT_TYPES.get(m.signal_type, m.signal_type)} equal)"


def _pdq(m, ev, out, case_kind) -> str:
    meta = ev.get("query_meta") or {}
    variant = meta.get("variant") or "original"
    if variant == "region":
        what = QUERY_REGIONS.get(meta.get("region"), "A part of the upload matches the bank image")
    else:
        what = VARIANTS.get(variant, f"The bank image ({str(variant).replace('_', ' ')})")
    region = ev.get("bank_region")
    if isinstance(region, str) and region.startswith("centre:"):
        share = region.split(":", 1)[1]
        what = f"A {share}% crop of the bank image matched (bank-side crop)" + (
            "" if variant in ("original", "region") else f"; {VARIANTS.get(variant, variant).lower()}")
    elif isinstance(region, str) and region.startswith("grid:"):
        what += f" (compared with the {region.split(':', 1)[1]} two-thirds of the bank image)"
    if ev.get("query_box"):
        out.boxes["query"] = ev["query_box"]
    if ev.get("bank_box"):
        out.boxes["bank"] = ev["bank_box"]
    if m.distance is None:
        return what
    return f"{what}, {_num(m.distance)} of 256 bits differ (limit {_num(m.threshold)})"


def _keypoints(m, ev, out, case_kind) -> str:
    inliers = ev.get("inliers", m.score)
    t = ev.get("transform") or {}
    how = []
    scale = t.get("scale")
    if isinstance(scale, (int, float)) and abs(scale - 1) > 0.05:
        how.append(f"at {scale:.2g}× its size")
    rot = t.get("rotation")
    if isinstance(rot, (int, float)) and abs(rot) >= 2:
        how.append(f"turned {abs(rot):.0f}° {'anticlockwise' if rot > 0 else 'clockwise'}")
    if t.get("mirrored"):
        how.append("mirrored")
    place = f" ({', '.join(how)})" if how else ""
    return (f"The bank image appears in the upload{place}: {_num(inliers)} landmark points line up in one consistent "
            f"layout (at least {_num(m.threshold)} needed)")


def _vpdq(m, ev, out, case_kind) -> str:
    q_ranges = [r for r in ev.get("query_ranges") or [] if isinstance(r, list) and len(r) == 2]
    b_ranges = [r for r in ev.get("bank_ranges") or [] if isinstance(r, list) and len(r) == 2]
    if q_ranges and b_ranges:
        # Ranges pair up in order when both sides have as many; otherwise the overall spans pair.
        pairs = list(zip(b_ranges, q_ranges)) if len(q_ranges) == len(b_ranges) else [
            ([b_ranges[0][0], b_ranges[-1][1]], [q_ranges[0][0], q_ranges[-1][1]])]
        out.ranges = [(float(b[0]), float(b[1]), float(q[0]), float(q[1])) for b, q in pairs]
        parts = [f"Seconds {_num(round(b[0]))}–{_num(round(b[1]))} of the bank video appear at {clock(q[0])}–{clock(q[1])} of the upload"
                 for b, q in pairs[:3]]
        text = "; ".join(parts)
    else:
        text = "Frames of the bank video appear in the upload"
    matched, total = ev.get("matched_query_frames"), ev.get("query_frames")
    if isinstance(matched, int) and isinstance(total, int) and total:
        text += f" ({matched} of {total} sampled frames of the upload match)"
    return text


def _sentences_phrase(ev: dict) -> str:
    aligned = [p for p in ev.get("aligned") or [] if isinstance(p, dict)]
    n = len(aligned)
    cov = ev.get("bank_coverage")
    if n and isinstance(cov, (int, float)) and cov > 0:
        total = max(n, round(n / cov))
        return f"{n} of {total} sentences of the bank text"
    return f"{n} sentence{'s' if n != 1 else ''} of the bank text"


def _read_from(case_kind: str, lang: str | None, ocr: bool) -> str:
    if ocr or case_kind in ("image", "video"):
        return f"Text read from the {'video' if case_kind == 'video' else 'image'} (OCR, {language_name(lang)})"
    return f"Text in {language_name(lang)}"


def _text_xling(m, ev, out, case_kind) -> str:
    aligned = [p for p in ev.get("aligned") or [] if isinstance(p, dict)]
    q_lang = next((p.get("query_lang") for p in aligned if p.get("query_lang")), None)
    b_lang = next((p.get("bank_lang") for p in aligned if p.get("bank_lang")), None)
    out.passages = _passages(aligned)
    bank = f" ({language_name(b_lang)})" if b_lang and b_lang != q_lang else ""
    return f"{_read_from(case_kind, q_lang, ev.get('source') == 'ocr')}, aligned with {_sentences_phrase(ev)}{bank}"


def _text_near(m, ev, out, case_kind) -> str:
    meta = ev.get("query_meta") or {}
    lang = ev.get("lang") or meta.get("lang")
    ocr = (ev.get("source") or meta.get("source")) == "ocr"
    if ev.get("query_text"):
        out.passages = [Passage(ev["query_text"], lang, None, lang, _where(ev.get("bank_span")))]
    share = ev.get("jaccard", m.score)
    return (f"{_read_from(case_kind, lang, ocr)}, nearly the same wording as the bank text: "
            f"{_pct(share)} of word sequences shared (limit {_pct(m.threshold)})")


def _url(m, ev, out, case_kind) -> str:
    return "The same web address as the bank item (after removing tracking parameters)"


def _generic(m, ev, out, case_kind) -> str:
    figure = f"distance {_num(m.distance)} (limit {_num(m.threshold)})" if m.distance is not None else (
        f"score {_num(m.score)} (limit {_num(m.threshold)})" if m.score is not None else "matched")
    return f"Matched by {m.signal_type}: {figure}"


WRITERS = {"md5": _exact, "sha256": _exact, "sha512": _exact, "video_md5": _exact, "pdq": _pdq,
           "keypoints": _keypoints, "vpdq": _vpdq, "text_xling": _text_xling, "text_near": _text_near, "url": _url}


def _where(span: Any) -> str:
    if isinstance(span, list) and len(span) == 2 and all(isinstance(x, int) for x in span):
        return f"characters {span[0]}–{span[1]} of the bank text"
    return "the bank text"


def _passages(aligned: list[dict]) -> list[Passage]:
    out, seen = [], set()
    for p in aligned:
        key = (p.get("query_start"), p.get("query_end"), p.get("bank_chunk"))
        if key in seen:
            continue  # each passage once
        seen.add(key)
        where = f"sentence {int(p['bank_chunk']) + 1}" if isinstance(p.get("bank_chunk"), int) else "the bank text"
        out.append(Passage(p.get("query_text"), p.get("query_lang"), p.get("bank_text"), p.get("bank_lang"), where))
    return out


# -- raw figures (behind the details toggle) ---------------------------------------
RAW_SKIP = {"aligned", "query_text", "query_signal", "bank_item_id", "frame_pairs", "query_meta", "names_shared"}


def _raw(m: Any, ev: dict) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = [("signal type", str(m.signal_type))]
    if m.distance is not None:
        rows.append(("distance", f"{_num(m.distance)} (limit ≤ {_num(m.threshold)})"))
    if m.score is not None:
        rows.append(("score", f"{_num(m.score)} (limit ≥ {_num(m.threshold)})"))
    rows.append(("match strength", f"{float(m.strength or 0):.2f} on 0–1 (0.5 = at the limit, 1 = exact)"))
    meta = ev.get("query_meta")
    if isinstance(meta, dict):
        rows += [(f"query {k}".replace("_", " "), _short(v)) for k, v in meta.items() if k not in ("box",)]
    for key, value in ev.items():
        if key not in RAW_SKIP and value is not None:
            rows.append((key.replace("_", " "), _short(value)))
    return rows


def _short(value: Any) -> str:
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, (list, dict)):
        import json

        text = json.dumps(value, ensure_ascii=False)
        return text if len(text) <= 200 else text[:200] + "…"
    return str(value)


SEVERITY = {0: "not set", 1: "low", 2: "medium", 3: "high", 4: "critical"}


def severity_word(level: int | None) -> str:
    return SEVERITY.get(int(level or 0), "critical" if (level or 0) > 4 else "not set")


def ago(then: Any, now: Any) -> str:
    """'3 minutes ago', '2 days ago': how old a case is, in words."""
    from crossmatch.review.models import aware

    seconds = max(0, int((aware(now) - aware(then)).total_seconds()))
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"
