"""Validated shapes for banks and bank items (used by CLI, API and importers)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

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
