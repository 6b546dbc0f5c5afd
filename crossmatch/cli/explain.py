"""Why a match matched, and why a text that came close did not, in words for the human scan table.

Everything here reads the evidence the signal types already produce
(crossmatch/signals/*, crossmatch/text/align.py); ``--json`` carries the same
evidence in full.  Near misses ask the text types' own ``match`` again with
their loosest threshold, so the reason given is the decision's own, never a
second matcher's.
"""

from __future__ import annotations

from typing import Any

TEXT_TYPES = ("text_xling", "text_near")
EXACT_TYPES = {"md5": "MD5", "sha256": "SHA-256", "sha512": "SHA-512", "video_md5": "video MD5"}
SCORE_NOTES = {
    "text_xling": "text_xling score: how far the aligned sentences stand out from other texts (the sum of each pair's "
                  "margin above 1.0, raised when the pairs cover most of both texts or run in order); not a "
                  "probability, so it can exceed 1; a match needs the threshold",
    "text_near": "text_near score: the estimated share of 5-character shingles both texts have (Jaccard, 0-1)",
    "vpdq": "vpdq distance: mean bits apart of the matched frames (of 256); the why column gives the matched time ranges",
    "pdq": "pdq distance: bits apart (of 256); a match needs at most the threshold",
}


def why(match: Any) -> str:
    """A one-line reason for people; the full evidence is in --json."""
    evidence = match.evidence or {}
    if match.signal_type == "text_xling":
        return _xling(evidence)
    if match.signal_type == "text_near":
        return _near(evidence)
    if match.signal_type == "vpdq":
        return _video(evidence)
    if match.signal_type in EXACT_TYPES:
        return f"identical file (same {EXACT_TYPES[match.signal_type]})"
    if match.signal_type == "url":
        return "same link after canonicalisation"
    return _picture(evidence)


def _picture(evidence: dict) -> str:
    meta = evidence.get("query_meta") or {}
    parts = []
    if meta.get("variant") and meta["variant"] != "original":
        detail = meta.get("region") or meta.get("band")
        parts.append(f"{str(meta['variant']).replace('_', ' ')}{f' ({detail})' if detail else ''}")
    if meta.get("box"):
        parts.append(f"region {meta['box']} of the upload")
    return ", ".join(parts) or "same picture"


def _ratio(part: float | None, whole_share: float | None) -> str | None:
    """'k of n' from a count and a coverage share (n = k / share)."""
    if not part or not whole_share:
        return None
    return f"{part} of {max(part, round(part / whole_share))}"


def _langs(pairs: list[dict]) -> str:
    query = sorted({p.get("query_lang") or "?" for p in pairs})
    bank = sorted({p.get("bank_lang") or "?" for p in pairs})
    return f"{'/'.join(query)}→{'/'.join(bank)}"


def _strongest(pairs: list[dict]) -> str:
    best = max(pairs, key=lambda p: p.get("score") or 0)
    text = (best.get("query_text") or "").strip()
    quoted = f"“{text[:60]}{'…' if len(text) > 60 else ''}” " if text else ""
    return (f"strongest pair {quoted}= bank sentence {int(best.get('bank_chunk', 0)) + 1} "
            f"(cosine {best.get('cosine', 0):.2f}, margin {best.get('score', 0):.2f})")


def _xling(evidence: dict) -> str:
    pairs = evidence.get("aligned") or []
    if not pairs:
        return "cross-lingual match"
    share = _ratio(len({p.get("bank_chunk") for p in pairs}), evidence.get("bank_coverage"))
    head = f"{share} bank sentences aligned" if share else f"{len(pairs)} sentences aligned"
    if evidence.get("pairs_in_runs"):
        head += " (in order, a quoted passage)" if (evidence.get("bank_coverage") or 0) < 1 else ", in order"
    return f"{head}, {_langs(pairs)}; {_strongest(pairs)}"


def _near(evidence: dict) -> str:
    jaccard = evidence.get("jaccard")
    scope = "a passage of the upload" if evidence.get("query_scope") == "window" else "the whole upload"
    lang = f", language {evidence['lang']}" if evidence.get("lang") else ""
    share = f"{jaccard:.0%} of character shingles shared" if isinstance(jaccard, (int, float)) else "shingles shared"
    return f"near copy: {share} ({scope}{lang})"


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _video(evidence: dict) -> str:
    def ranges(key: str) -> str:
        return ", ".join(f"{_clock(a)}-{_clock(b)}" for a, b in evidence.get(key) or [])

    parts = []
    if evidence.get("query_ranges"):
        parts.append(f"upload {ranges('query_ranges')} = bank video {ranges('bank_ranges')}")
    if evidence.get("query_coverage") is not None:
        parts.append(f"{evidence['query_coverage']:.0%} of upload frames")
    if evidence.get("bank_coverage") is not None:
        parts.append(f"{evidence['bank_coverage']:.0%} of the bank video")
    return ", ".join(parts) or "matching frames"


def score_notes(matches: list[Any]) -> list[str]:
    """One line per signal type shown, saying what its number means (once per scan)."""
    return [SCORE_NOTES[t] for t in dict.fromkeys(m.signal_type for m in matches) if t in SCORE_NOTES]


# -- near misses ---------------------------------------------------------------------------------

def near_misses(cx: Any, result: Any) -> list[str]:
    """Why a text with no match did not match: its closest text candidates under the bank threshold."""
    if result.matches or result.error:
        return []
    banks = {b.id: b for b in cx.banks.list_banks() if b.enabled and b.kind == "block"}
    refs: dict[int, Any] = {}

    def lookup(signal_ids):
        missing = [i for i in signal_ids if i not in refs]
        if missing:
            refs.update(cx.banks.describe_signals(missing))
        return {i: (refs[i].item_id, refs[i].signal) for i in signal_ids if i in refs}

    lines = []
    for type_name in TEXT_TYPES:
        queries = [s for s in result.signals if s.type == type_name]
        if not queries or type_name not in cx.registry or not banks:
            continue
        signal_type = cx.registry.get(type_name)
        # The loosest threshold the type answers exactly (text_xling: any positive score; text_near: the LSH floor).
        candidates = signal_type.match(queries, cx.indexes.index(type_name), signal_type.max_threshold, lookup)
        best = None
        for cand in candidates:
            ref = refs.get(cand.signal_ids[0])
            if ref is None or not ref.item_enabled or ref.bank_id not in banks:
                continue
            threshold = float(banks[ref.bank_id].thresholds.get(type_name, signal_type.default_threshold))
            if cand.score is not None and cand.score < threshold and (best is None or cand.score > best[0].score):
                best = (cand, ref, threshold)
        if best:
            cand, ref, threshold = best
            reason = (_xling_miss(cand.evidence, len(queries)) if type_name == "text_xling" else
                      f"{cand.score:.0%} of character shingles shared; a near copy in the same language shares at least {threshold:.0%}")
            lines.append(f"closest: {banks[ref.bank_id].name}/{ref.external_id} ({type_name} score {cand.score:.3g}, "
                         f"a match needs {threshold:g}): {reason}")
    return lines


def _xling_miss(evidence: dict, query_sentences: int) -> str:
    """The decision's own reason, from its evidence (crossmatch/text/align.py decide_item)."""
    pairs = evidence.get("aligned") or []
    n = len(pairs)
    bank_total = round(n / evidence["bank_coverage"]) if evidence.get("bank_coverage") else None
    langs = _langs(pairs) if pairs else ""
    margin = f"mean margin {evidence.get('mean_margin', 0):.2f}; a pair counts only above 1.0"
    if n == 1 and query_sentences == 1:
        return (f"1 aligned sentence ({langs}) of {bank_total or '?'} in the bank item; one sentence is weak evidence "
                f"and an excerpt usually needs 2 aligned sentences: scan more of the post")
    if n == 1:
        return f"1 aligned sentence ({langs}); one pair of multi-sentence texts counts half: an excerpt usually needs 2"
    if not evidence.get("pairs_in_runs"):
        return (f"{n} aligned sentences ({langs}), none in a row, each standing out little from other texts ({margin}); "
                f"a text on the same topic looks like this")
    return f"{n} aligned sentences ({langs}) standing out little from other texts ({margin})"
