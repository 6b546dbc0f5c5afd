"""Validated shapes for banks and bank items (used by CLI, API and importers)."""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

BankKind = Literal["block", "allow"]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")


def check_bank_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(
            f"bank name {name!r} is not valid: use 1-200 letters, digits, '_', '-' or '.', starting with a letter or digit"
        )
    return name


class ItemLabels(BaseModel):
    """What is known about a bank item; extra keys are kept as given."""

    model_config = ConfigDict(extra="allow")

    entity: str | None = Field(None, description="Producing entity (group)")
    outlet: str | None = Field(None, description="Media outlet that published it")
    category: str | None = None
    language: str | None = None
    source: str | None = Field(None, description="Where the item came from (exchange, analyst, ...)")
    first_seen: str | None = None
    notes: str | None = None

    def compact(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v not in (None, "")}


class BankSpec(BaseModel):
    name: str
    kind: BankKind = "block"
    description: str = ""
    labels: dict[str, Any] = Field(default_factory=dict)
    thresholds: dict[str, float] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_bank_name(value)


# -- bank rules (enforced by BankService for every caller) ---------------------------
class SignalTypeLimits(Protocol):
    """What the rules need to know about a signal type (a SignalType provides it)."""

    name: str
    metric: str
    max_threshold: float


def check_thresholds(thresholds: Any, type_of: Callable[[str], SignalTypeLimits]) -> dict[str, float]:
    """Per-type thresholds, each within what its type can answer; ValueError names the rule broken.

    Distance types (pdq, md5, ...) match at or below the threshold, so it must be
    between 0 and the type's ``max_threshold``; score types match at or above it, so it
    must be at least the type's ``max_threshold`` (the loosest score its index answers
    exactly; a lower one would silently miss matches).
    """
    if not isinstance(thresholds, dict):
        raise ValueError("thresholds must be a mapping of signal type to number, e.g. {\"pdq\": 31}")
    out: dict[str, float] = {}
    for name, value in thresholds.items():
        limits = type_of(name)  # raises for an unknown type, naming the known ones
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"threshold {name}={value!r} must be a finite number")
        value = float(value)
        if limits.metric == "distance" and not 0.0 <= value <= limits.max_threshold:
            raise ValueError(f"threshold {name}={value:g} is out of range: {name} is a distance type, "
                             f"so its threshold must be between 0 and {limits.max_threshold:g}")
        if limits.metric == "score" and value < limits.max_threshold:
            raise ValueError(f"threshold {name}={value:g} is out of range: {name} is a score type whose index answers "
                             f"scores from {limits.max_threshold:g} up, so its threshold must be at least that")
        out[name] = value
    return out


POLICY_SHORTHAND = ("review", "auto", "none")  # `--option policy=auto` means {"on_match": "auto"}


def check_options(options: Any) -> dict[str, Any]:
    """Known bank options with valid values; a policy is stored in its full form."""
    # Imported here: the policy module imports the engine, which imports the bank service.
    from crossmatch.actions.policy import POLICY_KEY, Policy

    if not isinstance(options, dict):
        raise ValueError("options must be a mapping, e.g. {\"ocr\": false}")
    unknown = sorted(set(options) - set(OPTION_RULES))
    if unknown:
        raise ValueError(f"unknown bank option(s) {unknown}; known options: {', '.join(sorted(OPTION_RULES))}")
    out = dict(options)
    for key, value in options.items():
        if key == POLICY_KEY:
            if isinstance(value, str) and value in POLICY_SHORTHAND:
                value = {"on_match": value}
            try:
                policy = Policy.model_validate(value)
            except ValidationError as exc:
                error = exc.errors()[0]
                where = ".".join(str(part) for part in error["loc"]) or "value"
                raise ValueError(f"bank option policy is not valid ({where}: {error['msg']}); give one of "
                                 f"{', '.join(POLICY_SHORTHAND)} or an object such as "
                                 "{\"on_match\": \"auto\", \"auto_max_distance\": 10}") from None
            if policy.auto_max_distance is not None and policy.auto_max_distance < 0:
                raise ValueError("bank option policy is not valid: auto_max_distance must be 0 or more")
            out[key] = policy.model_dump()
        elif not OPTION_RULES[key][0](value):
            raise ValueError(f"bank option {key}={value!r} is not valid: {OPTION_RULES[key][1]}")
    return out


OPTION_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "ocr": (lambda v: isinstance(v, bool), "it must be true or false (OCR in the deep pass for this bank)"),
    "hma_enabled_ratio": (lambda v: not isinstance(v, bool) and isinstance(v, (int, float)) and 0 <= v <= 1,
                          "it must be a number between 0 and 1 (the HMA API's matching_enabled_ratio)"),
    "policy": (lambda v: True, "see crossmatch.actions.policy"),
}
