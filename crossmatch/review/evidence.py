"""What a case keeps from a scan: severity, strength, language and readable evidence.

Signal types produce evidence of different shapes (PDQ: distance and dihedral
variant; text_near: the query window; text_xling: aligned chunk pairs).  These
helpers read what is there without assuming more, so a new signal type still
shows up in the queue.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from crossmatch.engine import Match
from crossmatch.signals.base import Content

SEVERITY_WORDS = {"low": 1, "medium": 2, "moderate": 2, "high": 3, "critical": 4}
MAX_SNIPPET = 600  # characters of query text kept per aligned span


def severity_of(*label_sets: dict[str, Any] | None) -> int:
    """Highest severity named by any label set: a number or low / medium / high / critical."""
    best = 0
    for labels in label_sets:
        value = (labels or {}).get("severity")
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, (int, float)):
            best = max(best, int(value))
        elif isinstance(value, str):
            word = value.strip().lower()
            best = max(best, int(word) if word.isdigit() else SEVERITY_WORDS.get(word, 0))
    return best


def item_severity(bank_labels: dict[str, Any] | None, item_labels: dict[str, Any] | None) -> int:
    """The item's own severity label when it has one (a lower item label is not overridden by its bank's), else the bank's."""
    own = severity_of(item_labels)
    return own if (item_labels or {}).get("severity") not in (None, "") else severity_of(bank_labels)


def strength_of(match: Match) -> float:
    """0..1, how far inside its threshold a match is: 0.5 at the threshold, 1 for an exact hit.

    Distances and scores of different signal types are not comparable; this
    puts them on one scale for sorting the queue, nothing more.
    """
    if match.distance is not None:
        scale = max(2.0 * float(match.threshold), 1e-9)
        return round(max(0.0, min(1.0, 1.0 - float(match.distance) / scale)), 4)
    if match.score is not None and match.threshold > 0:
        return round(max(0.0, min(1.0, 0.5 * float(match.score) / float(match.threshold))), 4)
    return 0.0


def label_summary(labels: dict[str, Any]) -> str:
    """Short text for the 'bank labels' sort: entity, outlet, category."""
    parts = [str(labels[k]) for k in ("entity", "outlet", "category") if labels.get(k)]
    return " / ".join(parts)[:500]


def language_of(matches: Iterable[Match], signals: Iterable[Any]) -> str | None:
    for match in matches:
        for pair in match.evidence.get("aligned") or []:
            if isinstance(pair, dict) and pair.get("query_lang"):
                return str(pair["query_lang"])[:20]
        if isinstance(match.evidence.get("lang"), str):
            return match.evidence["lang"][:20]
        meta = match.evidence.get("query_meta") or {}
        if isinstance(meta, dict) and meta.get("lang"):
            return str(meta["lang"])[:20]
    for signal in signals:
        lang = (getattr(signal, "meta", None) or {}).get("lang")
        if lang:
            return str(lang)[:20]
    return None


def enrich(evidence: dict[str, Any], content: Content | None) -> dict[str, Any]:
    """JSON-safe evidence, with the query text of every matched span added.

    Only the matched spans are kept (not the whole text), so a reviewer sees
    the aligned passages without the case storing the full content.
    """
    out = _json_safe(evidence)
    text = content.text if content is not None and content.kind == "text" else None
    if not text:
        return out
    for pair in out.get("aligned") or []:
        if isinstance(pair, dict) and not pair.get("query_text"):
            snippet = _span(text, pair.get("query_start"), pair.get("query_end"))
            if snippet:
                pair["query_text"] = snippet
    span = out.get("query_span")  # text_near: [start, end] of the matching query window
    meta = out.get("query_meta")
    if not (isinstance(span, list) and len(span) == 2) and isinstance(meta, dict):
        span = [meta.get("start"), meta.get("end")]
    if isinstance(span, list) and len(span) == 2 and "query_text" not in out:
        snippet = _span(text, span[0], span[1])
        if snippet:
            out["query_text"] = snippet
    return out


def _span(text: str, start: Any, end: Any) -> str | None:
    if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end <= len(text):
        return None
    snippet = text[start:end]
    return snippet if len(snippet) <= MAX_SNIPPET else snippet[:MAX_SNIPPET] + "…"


def _json_safe(value: dict[str, Any]) -> dict[str, Any]:
    # Evidence may carry numpy numbers or tuples; the JSON column needs plain values.
    return json.loads(json.dumps(value, default=_plain))


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)
