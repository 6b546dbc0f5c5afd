"""What a match in a bank leads to: a case for review, an automatic action, or nothing.

Stored in ``bank.options["policy"]``.  With ``on_match="auto"`` a match acts
automatically when it is at or below ``auto_max_distance`` (distance signal
types) or at or above ``auto_min_score`` (score types); weaker matches go to
review.  With no auto threshold given, every match of the bank acts automatically.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from crossmatch.engine import Match
from crossmatch.errors import InvalidInput

POLICY_KEY = "policy"


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on_match: Literal["review", "auto", "none"] = "review"
    auto_max_distance: float | None = None
    auto_min_score: float | None = None

    def outcome(self, match: Match) -> Literal["review", "auto", "none"]:
        if self.on_match != "auto":
            return self.on_match
        if self.auto_max_distance is None and self.auto_min_score is None:
            return "auto"
        if match.distance is not None and self.auto_max_distance is not None and match.distance <= self.auto_max_distance:
            return "auto"
        if match.score is not None and self.auto_min_score is not None and match.score >= self.auto_min_score:
            return "auto"
        return "review"


def policy_from_options(options: dict[str, Any] | None, bank_name: str = "") -> Policy:
    raw = (options or {}).get(POLICY_KEY) or {}
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(f"bank {bank_name!r} has an invalid policy ({exc.errors()[0]['msg']}); set it again") from None
