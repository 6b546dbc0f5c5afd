"""JSON shapes of cases and decisions, shared by the JSON API and the web UI."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from crossmatch.review.models import Case, CaseMatch, Decision, aware
from crossmatch.review.plain import describe

DecisionName = Literal["confirm", "reject", "escalate"]


class DecideIn(BaseModel):
    decision: str = Field(description="confirm | reject | escalate")
    note: str = ""
    reason: str | None = Field(None, description="a policy code from settings.review.reasons (news_reporting, ...)")
    add_to_allow_bank: str | None = Field(None, description="reject only: add the case's signals to this allow bank")


def _iso(value) -> str | None:
    value = aware(value)
    return value.isoformat() if value is not None else None


def match_json(m: CaseMatch) -> dict[str, Any]:
    out: dict[str, Any] = {
        "bank": m.bank, "bank_item": m.bank_item, "bank_item_id": m.bank_item_id, "item_labels": m.item_labels,
        "signal_type": m.signal_type, "threshold": m.threshold, "strength": m.strength, "evidence": m.evidence,
        "plain": describe(m).to_json(),
    }
    if m.distance is not None:
        out["distance"] = m.distance
    if m.score is not None:
        out["score"] = m.score
    return out


def decision_json(d: Decision) -> dict[str, Any]:
    return {
        "id": d.id, "case_id": d.case_id, "decision": d.decision, "actor": d.actor, "note": d.note, "reason": d.reason,
        "add_to_allow_bank": d.allow_bank, "action_ids": list(d.action_ids or []), "at": _iso(d.created_at),
    }


def case_json(case: Case, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": case.id, "status": case.status, "item": case.item, "kind": case.kind,
        "submission_id": case.submission_id, "source": case.source, "severity": case.severity,
        "strength": case.strength, "bank": case.bank, "bank_labels": case.bank_labels, "language": case.language,
        "claimed_by": case.claimed_by, "claimed_until": _iso(case.claimed_until),
        "created_at": _iso(case.created_at), "decided_at": _iso(case.decided_at),
        "media_retained": bool(case.media_path), "media_expires_at": _iso(case.media_expires_at),
        "match_count": len(case.matches),
    }
    if full:
        out["matches"] = [match_json(m) for m in case.matches]
        out["decisions"] = [decision_json(d) for d in case.decisions]
        out["warnings"] = list(case.warnings or [])
        out["signal_types"] = sorted({s.get("type", "") for s in case.signals or []})
    return out


def decision_payload(case: Case, decision: str, note: str, allow_bank: str | None, reason: str | None = None) -> dict[str, Any]:
    """What audit records and the decision webhook carry about a decided case."""
    return {
        "case_id": case.id, "decision": decision, "note": note, "reason": reason, "item": case.item, "kind": case.kind,
        # The action log keys submissions by number; other ids travel as submission_ref only.
        "submission_id": int(case.submission_id) if (case.submission_id or "").isdigit() else None,
        "submission_ref": case.submission_id, "source": case.source, "severity": case.severity,
        "added_to_allow_bank": allow_bank,
        "matches": [
            {"bank": m.bank, "bank_item": m.bank_item, "signal_type": m.signal_type,
             **({"distance": m.distance} if m.distance is not None else {}),
             **({"score": m.score} if m.score is not None else {}),
             "evidence_text": describe(m, case.kind).sentence}
            for m in case.matches
        ],
    }
