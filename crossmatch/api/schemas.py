"""Request and response shapes of the JSON API (they make the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path, Query

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from crossmatch.actions.service import EVENTS
from crossmatch.banks.schemas import BankKind, check_bank_name


# Database ids fit a signed 64-bit integer; bigger numbers are refused with a 422, not an overflow.
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Offset = Annotated[int, Query(ge=0, le=10**9)]


class ErrorOut(BaseModel):
    error: str = Field(description="Error class, e.g. NotFound, Conflict, InvalidInput, Unauthenticated, Forbidden")
    detail: str = Field(description="What went wrong and what to do next")


class TextIn(BaseModel):
    """Text or a URL to hash / look up / submit (files go as multipart field ``file``)."""

    model_config = ConfigDict(extra="forbid")
    # No length limit here: the body cap bounds it, and a long text is matched in parts up to
    # limits.max_text_chars (past it the answer says the item was not fully checked).
    text: str | None = None
    url: str | None = Field(None, max_length=8192)
    item: str | None = Field(None, max_length=500, description="A name for the content in results")
    source: str | dict[str, Any] | None = Field(
        None, description="Where it came from: a short text, or who posted it: {platform, account, post_id, url, "
                          "posted_at, links, parent} (outlets; account ids are pseudonymised)")
    idempotency_key: str | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _one(self) -> "TextIn":
        if isinstance(self.source, str) and len(self.source) > 200:
            raise ValueError("a text source may have at most 200 characters; give who posted it as an object")
        if (self.text is None) == (self.url is None):
            raise ValueError("give exactly one of 'text' or 'url' (or upload a file as multipart field 'file')")
        return self


class SignalOut(BaseModel):
    type: str
    value: str
    quality: int | None = None
    meta: dict[str, Any] = Field(default_factory=dict)


class HashOut(BaseModel):
    item: str
    kind: str
    signals: list[SignalOut]
    warnings: list[str] = Field(default_factory=list)
    error: str | None = None


class MatchOut(BaseModel):
    bank: str
    bank_kind: str
    bank_item: str
    bank_item_id: int
    item_labels: dict[str, Any]
    signal_type: str
    threshold: float
    distance: float | None = None
    score: float | None = None
    evidence: dict[str, Any] = Field(default_factory=dict)
    suppressed_by: str | None = None


class DeepPassOut(BaseModel):
    """What became of the deep pass (regions, local features, OCR) of a synchronous lookup."""

    status: Literal["done", "not_needed", "off", "queued", "failed"] = Field(
        description="done: ran in full; not_needed: the cheap pass already matched (or not media); off: disabled; "
                    "queued: the time budget ran out and it continues asynchronously as `submission_id`; "
                    "failed: it could not be queued (the item was not fully checked)")
    incomplete: list[str] = Field(default_factory=list, description="stages the time budget cut off")
    submission_id: int | None = Field(None, description="poll GET /api/v1/submissions/{id}; a match opens a case and fires webhooks")


class LookupOut(BaseModel):
    item: str
    kind: str
    matches: list[MatchOut]
    suppressed: list[MatchOut] = Field(default_factory=list, description=(
        "block matches an allow-bank match covers; shown to curators and admins only unless "
        "service.expose_allow_matches is set"))
    warnings: list[str] = Field(default_factory=list)
    error: str | None = None
    complete: bool = Field(True, description="false: not fully checked yet (see deep_pass and error); never read it as clean")
    deep_pass: DeepPassOut | None = None


# The longest signal value a request may carry: a TMK+PDQF hash is 351,125 characters (the request
# body limit still bounds the whole request).
MAX_SIGNAL_CHARS = 400_000


class SignalLookupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    signal_type: str = Field(max_length=40)
    signal: str = Field(max_length=MAX_SIGNAL_CHARS)


class SignalLookupOut(BaseModel):
    matches: list[MatchOut]


class SubmissionOut(BaseModel):
    id: int
    status: Literal["queued", "scanning", "done", "failed"]
    item: str
    kind: str
    source: str | None = None
    source_record: dict[str, Any] | None = Field(None, description="Who posted it, pseudonymised, with warnings")
    idempotency_key: str | None = None
    result: dict[str, Any] | None = None
    case_id: int | None = None
    action_ids: list[int] = Field(default_factory=list)
    error: str | None = None
    created_at: datetime
    finished_at: datetime | None = None


class BankIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200)
    kind: BankKind = "block"
    description: str = Field("", max_length=10_000)
    labels: dict[str, Any] = Field(default_factory=dict)
    thresholds: dict[str, float] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True

    _name = field_validator("name")(check_bank_name)


class BankPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: BankKind | None = None
    description: str | None = Field(None, max_length=10_000)
    labels: dict[str, Any] | None = None
    thresholds: dict[str, float] | None = None
    options: dict[str, Any] | None = None
    enabled: bool | None = None


class BankOut(BaseModel):
    name: str
    kind: str
    enabled: bool
    description: str
    labels: dict[str, Any]
    thresholds: dict[str, float]
    options: dict[str, Any]
    created_at: datetime | None = None
    items: int | None = None
    signals: dict[str, int] | None = None


class SignalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(max_length=40)
    value: str = Field(max_length=MAX_SIGNAL_CHARS)


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=500)
    signals: list[SignalIn] = Field(min_length=1, max_length=10_000)
    labels: dict[str, Any] = Field(default_factory=dict)
    content_kind: Literal["image", "video", "text", "url", "file"] | None = None


class ItemsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[ItemIn] = Field(min_length=1, max_length=10_000)


class ItemsUpsertOut(BaseModel):
    statuses: dict[str, str]


class ItemOut(BaseModel):
    id: str
    enabled: bool
    labels: dict[str, Any]
    content_kind: str | None = None
    confirmed_count: int = 0
    rejected_count: int = 0
    signals: list[SignalOut] | None = None


class ItemPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool


class ImportOut(BaseModel):
    added: int
    updated: int
    unchanged: int
    errors: list[dict[str, str]]


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on_match: Literal["review", "auto", "none"] = "review"
    auto_max_distance: float | None = Field(None, ge=0)
    auto_min_score: float | None = None


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    url: str = Field(max_length=4096)
    events: list[Literal[EVENTS]] | None = Field(None, description="Events to receive; default match.auto and decision")  # type: ignore[valid-type]
    secret: str | None = Field(None, min_length=16, max_length=200, description="HMAC key; generated when omitted")


class WebhookPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(None, max_length=4096)
    events: list[Literal[EVENTS]] | None = None  # type: ignore[valid-type]
    enabled: bool | None = None
    secret: str | None = Field(None, min_length=16, max_length=200)


class WebhookOut(BaseModel):
    id: int
    name: str
    url: str
    events: list[str]
    enabled: bool
    created_at: datetime
    secret: str | None = Field(None, description="Only in the response that created the webhook")


class ActionOut(BaseModel):
    id: int
    event: str
    webhook_id: int
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    next_attempt_at: float | None = None
    last_error: str | None = None
    delivery_id: str
    submission_id: int | None = None
    case_id: int | None = None
    payload: dict[str, Any]
    created_at: datetime
    delivered_at: datetime | None = None


class RetriedOut(BaseModel):
    retried: int


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["hasher", "matcher", "curator", "reviewer", "senior", "admin"]
    name: str | None = Field(None, min_length=1, max_length=200)


class TokenOut(BaseModel):
    id: int
    name: str
    role: str
    prefix: str
    created_by: str
    created_at: datetime
    revoked: bool
    token: str | None = Field(None, description="The secret: only in the response that created it")


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=10, max_length=1000)
    role: Literal["hasher", "matcher", "curator", "reviewer", "senior", "admin"]


class UserOut(BaseModel):
    id: int
    username: str
    role: str
    enabled: bool
    created_at: datetime


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
