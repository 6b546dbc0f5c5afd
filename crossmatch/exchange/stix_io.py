"""STIX 2.1 through the ``stix2`` library: indicators in, a bank out as a bundle.

Import: ``indicator`` objects with file-hash (MD5, SHA-256, SHA-512, PDQ) or
URL patterns become bank items; ``threat-actor`` / ``intrusion-set`` objects
they ``indicates`` (or that are ``attributed-to``) become the ``entity`` label,
a related ``identity`` the ``outlet``; the indicator's ``name`` is kept as the
``name`` label (its id alone, ``indicator--3d86…``, tells a reviewer nothing).  Each object is parsed (and so
validated, patterns included) by ``stix2.parse``; a bad object fails alone.
Export: one indicator per bank item; entities become threat-actor SDOs and
outlets identity SDOs, linked by relationships, so OpenCTI / MISP importers
read them.  crossmatch's exact record rides along in ``x_crossmatch_*``
properties so a crossmatch receiving the bundle gets the same bank back.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, TextIO

import stix2

from crossmatch.exchange.base import Checkpoint, Delta, SourceError, Update
from crossmatch.items import ItemError
from crossmatch.signals.base import Signal

NAMESPACE = uuid.UUID("6f1c5a4e-9d0b-4c55-a3c1-2f5e0c7d8b91")  # crossmatch's uuid5 namespace for STIX ids
HASH_TYPES = {"md5": "md5", "sha-256": "sha256", "sha256": "sha256", "sha-512": "sha512", "sha512": "sha512",
              "pdq": "pdq", "x_pdq": "pdq", "x-pdq": "pdq"}
STIX_HASH_NAMES = {"md5": "MD5", "video_md5": "MD5", "sha256": "SHA-256", "sha512": "SHA-512", "pdq": "PDQ"}
_COMPARISON = re.compile(r"(file:hashes\.(?:'([^']+)'|([A-Za-z0-9_\-]+))|url:value)\s*=\s*'((?:[^'\\]|\\.)*)'")
ENTITY_TYPES = ("threat-actor", "intrusion-set")
EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)


def _sid(kind: str, *parts: str) -> str:
    return f"{kind}--{uuid.uuid5(NAMESPACE, '|'.join(parts))}"


def signals_from_pattern(pattern: str) -> list[tuple[str, str]]:
    out = []
    for match in _COMPARISON.finditer(pattern):
        value = match.group(4).replace("\\'", "'")
        if match.group(1) == "url:value":
            out.append(("url", value))
            continue
        name = (match.group(2) or match.group(3) or "").lower()
        out.append((HASH_TYPES.get(name, name), value))
    return out


class StixSource:
    """A STIX 2.1 bundle file, read whole on each sync (a snapshot)."""

    def __init__(self, name: str, path: str | Path) -> None:
        self.name = name
        self.path = Path(path)

    def snapshot(self, checkpoint: Checkpoint | None) -> bool:
        return True

    def fetch(self, checkpoint: Checkpoint | None) -> Iterator[Delta]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise SourceError(f"exchange {self.name!r}: cannot read {self.path}: {exc.strerror}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SourceError(f"exchange {self.name!r}: {self.path.name} is not JSON ({exc}); a STIX bundle is a JSON object") from None
        updates, errors = read_bundle(raw)
        yield Delta(updates, {"objects": len(updates)}, errors)


def read_bundle(raw: Any) -> tuple[list[Update], list[ItemError]]:
    if not isinstance(raw, dict) or raw.get("type") != "bundle" or not isinstance(raw.get("objects"), list):
        raise SourceError('not a STIX bundle: expected {"type": "bundle", "objects": [...]}')
    errors: list[ItemError] = []
    objects: dict[str, Any] = {}
    for number, obj in enumerate(raw["objects"]):
        where = obj.get("id", f"object #{number}") if isinstance(obj, dict) else f"object #{number}"
        try:
            parsed = stix2.parse(obj, allow_custom=True, version="2.1")
            if not isinstance(parsed.get("id"), str) or not isinstance(parsed.get("type"), str):
                raise ValueError("object has no string id and type")
        except Exception as exc:  # noqa: BLE001 - stix2 raises many kinds; one bad object fails alone, never the sync
            errors.append(ItemError(str(where)[:300], f"invalid STIX object: {type(exc).__name__}: {str(exc)[:300]}"))
            continue
        objects[parsed["id"]] = parsed
    related: dict[str, list[Any]] = {}
    for obj in objects.values():
        if obj["type"] == "relationship" and obj.get("source_ref") in objects and obj.get("target_ref") in objects:
            target = objects[obj["target_ref"]]
            related.setdefault(obj["source_ref"], []).append(target)
    updates: list[Update] = []
    for obj in objects.values():
        if obj["type"] != "indicator":
            continue
        try:
            updates.append(_indicator_update(obj, related.get(obj["id"], [])))
        except Exception as exc:  # noqa: BLE001 - a malformed indicator is this indicator's error only
            detail = str(exc) if isinstance(exc, ValueError) else f"malformed indicator ({type(exc).__name__}: {str(exc)[:200]})"
            errors.append(ItemError(obj["id"], detail))
    return updates, errors


def _indicator_update(obj: Any, related: list[Any]) -> Update:
    exact = obj.get("x_crossmatch_signals")
    if exact:
        if not isinstance(exact, list) or not all(isinstance(s, dict) and isinstance(s.get("type"), str)
                                                  and isinstance(s.get("value"), str) and isinstance(s.get("meta") or {}, dict)
                                                  for s in exact):
            raise ValueError("x_crossmatch_signals must be a list of {type, value, quality?, meta?} objects")
        signals: list[Any] = [Signal(s["type"], s["value"], s.get("quality"), s.get("meta") or {}) for s in exact]
    else:
        if obj.get("pattern_type") != "stix":
            raise ValueError(f"pattern type {obj.get('pattern_type')!r} is not read; crossmatch reads STIX patterns of file hashes and URLs")
        signals = signals_from_pattern(obj["pattern"])
        if not signals:
            raise ValueError(f"pattern has no file hash or URL comparison crossmatch can use: {obj['pattern'][:120]}")
    labels: dict[str, Any] = dict(obj.get("x_crossmatch_labels") or {})
    if not obj.get("x_crossmatch_labels"):
        entities = sorted(r["name"] for r in related if r["type"] in ENTITY_TYPES)
        outlets = sorted(r["name"] for r in related if r["type"] == "identity")
        if entities:
            labels["entity"] = entities[0] if len(entities) == 1 else ", ".join(entities)
        if outlets:
            labels["outlet"] = outlets[0] if len(outlets) == 1 else ", ".join(outlets)
        if obj.get("name"):
            labels["name"] = obj["name"]
        if obj.get("labels"):
            labels["tags"] = list(obj["labels"])
        if obj.get("description"):
            labels["notes"] = obj["description"]
        labels["first_seen"] = obj["valid_from"].isoformat() if hasattr(obj["valid_from"], "isoformat") else str(obj["valid_from"])
        labels["stix_id"] = obj["id"]
    opinions = obj.get("x_crossmatch_opinions")
    counts = (int(opinions.get("confirmed", 0)), int(opinions.get("rejected", 0))) if opinions else None
    item_id = str(obj.get("x_crossmatch_item_id") or obj["id"])
    deleted = bool(obj.get("revoked"))
    return Update(item_id, [] if deleted else signals, labels, deleted=deleted, opinions=counts,
                  content_kind=obj.get("x_crossmatch_content_kind"), enabled=obj.get("x_crossmatch_enabled", True))


def _pattern(signals: list[Signal]) -> tuple[str, str]:
    parts = []
    for s in signals:
        value = s.value.replace("\\", "\\\\").replace("'", "\\'")
        if s.type in STIX_HASH_NAMES:
            name = STIX_HASH_NAMES[s.type]
            parts.append(f"file:hashes.{name if name.isalnum() else repr(name)} = '{value}'")
        elif s.type == "url":
            parts.append(f"url:value = '{value}'")
    if parts:
        return "stix", "[" + " OR ".join(parts) + "]"
    # Text signals (embeddings, MinHash) have no STIX observable; the record is in x_crossmatch_signals.
    return "x-crossmatch", json.dumps(sorted({s.type for s in signals}))


def write_stix(items: Iterator[Any], out: TextIO, bank: Any) -> int:
    """A bank as one STIX 2.1 bundle; stix2 validates every object as it is built."""
    objects: dict[str, Any] = {}
    count = 0
    created = bank.created_at if getattr(bank, "created_at", None) else EPOCH
    for item in items:
        if not item.signals:
            continue
        pattern_type, pattern = _pattern(item.signals)
        indicator_id = _sid("indicator", bank.name, item.external_id)
        indicator = stix2.Indicator(
            id=indicator_id, created=created, modified=created, valid_from=created, pattern=pattern, pattern_type=pattern_type,
            name=f"{bank.name}/{item.external_id}", indicator_types=["malicious-activity"],
            x_crossmatch_item_id=item.external_id, x_crossmatch_labels=item.labels,
            x_crossmatch_signals=[s.to_json() for s in item.signals],
            x_crossmatch_opinions={"confirmed": item.confirmed, "rejected": item.rejected},
            x_crossmatch_enabled=item.enabled, allow_custom=True,
            **({"x_crossmatch_content_kind": item.content_kind} if item.content_kind else {}),
        )
        objects[indicator_id] = indicator
        entity_id = outlet_id = None
        if isinstance(item.labels.get("entity"), str) and item.labels["entity"]:
            entity_id = _sid("threat-actor", item.labels["entity"])
            objects.setdefault(entity_id, stix2.ThreatActor(id=entity_id, created=EPOCH, modified=EPOCH, name=item.labels["entity"],
                                                            threat_actor_types=["terrorist"]))
            rel = _sid("relationship", indicator_id, "indicates", entity_id)
            objects[rel] = stix2.Relationship(id=rel, created=EPOCH, modified=EPOCH, relationship_type="indicates",
                                              source_ref=indicator_id, target_ref=entity_id)
        if isinstance(item.labels.get("outlet"), str) and item.labels["outlet"]:
            outlet_id = _sid("identity", "outlet", item.labels["outlet"])
            objects.setdefault(outlet_id, stix2.Identity(id=outlet_id, created=EPOCH, modified=EPOCH, name=item.labels["outlet"],
                                                         identity_class="organization", sectors=["communications"]))
            rel = _sid("relationship", indicator_id, "related-to", outlet_id)
            objects[rel] = stix2.Relationship(id=rel, created=EPOCH, modified=EPOCH, relationship_type="related-to",
                                              source_ref=indicator_id, target_ref=outlet_id)
        if entity_id and outlet_id:
            rel = _sid("relationship", entity_id, "attributed-to", outlet_id)
            objects.setdefault(rel, stix2.Relationship(id=rel, created=EPOCH, modified=EPOCH, relationship_type="related-to",
                                                       source_ref=outlet_id, target_ref=entity_id, description="outlet of"))
        count += 1
    bundle = stix2.Bundle(objects=list(objects.values()), allow_custom=True)
    out.write(bundle.serialize(pretty=False))
    out.write("\n")
    return count
