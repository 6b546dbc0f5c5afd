"""Tech Against Terrorism (TCAP) hash list through python-threatexchange's TCAP client, labels kept.

The library's ``TATSignalExchangeAPI`` keeps only PDQ and video MD5 and drops
every label.  We reuse its client (auth, session, retries, pagination) and only
(a) keep each raw entry's fields (ideology, entity, file type, dates) and
(b) keep MD5 / SHA-256 / SHA-512 rows too.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from threatexchange.exchanges import fetch_state as state
from threatexchange.exchanges.clients.techagainstterrorism.api import TATHashListAPI, TATHashListEntry
from threatexchange.exchanges.impl.techagainstterrorism_api import TATCheckpoint, TATSignalExchangeAPI

ENTRY_FIELDS = tuple(TATHashListEntry.__dataclass_fields__)
ALGORITHMS = {"PDQ": "pdq", "MD5": "md5", "SHA256": "sha256", "SHA-256": "sha256", "SHA512": "sha512", "SHA-512": "sha512",
              "TMK": "tmk_pdqf", "TMK+PDQF": "tmk_pdqf", "TMK_PDQF": "tmk_pdqf"}
# TCAP field names that carry the producing entity, under our label name.
ENTITY_FIELDS = ("entity", "group", "terrorist_entity", "organisation", "organization")


@dataclass
class TATRecord(state.FetchedSignalMetadata):
    labels: t.Dict[str, t.Any] = field(default_factory=dict)


class LabelledTATClient(TATHashListAPI):
    def __init__(self, username: str, password: str, base_url: str | None, timeout: float) -> None:
        super().__init__(username, password)
        if base_url:
            self.BASE_URL = base_url.rstrip("/") + "/"
        self.timeout = timeout
        self.raw: dict[t.Any, dict[str, t.Any]] = {}

    def _get(self, full_url: t.Optional[str] = None, auth_token: t.Optional[str] = None, **params: t.Any) -> t.Any:
        with self._get_session(auth_token) as session:
            response = session.get(url=full_url, params=params, timeout=self.timeout)
            response.raise_for_status()
            payload = response.json()
        results = payload.get("results")
        if not isinstance(results, list) or not all(isinstance(e, dict) for e in results):
            raise ValueError("TCAP page has no list of results; the server sent a broken page")
        self.raw = {e.get("id"): e for e in results}
        # The library's entry dataclass rejects fields it does not know: hand it only its own.
        payload["results"] = [{k: e.get(k) for k in ENTRY_FIELDS} for e in results]
        return payload


class LabelledTATSignalExchangeAPI(TATSignalExchangeAPI):
    def __init__(self, username: str, password: str, base_url: str | None = None, timeout: float = 60.0) -> None:
        super().__init__(username, password)
        self.base_url = base_url
        self.timeout = timeout

    def get_client(self) -> LabelledTATClient:
        return LabelledTATClient(self.username, self.password, self.base_url, self.timeout)

    def fetch_iter(self, _supported_signal_types: t.Sequence[t.Any], checkpoint: t.Optional[TATCheckpoint]) -> t.Iterator[state.FetchDelta]:
        client = self.get_client()
        for page in client.fetch_hashes_iter(checkpoint.checkpoint if checkpoint else ""):
            updates: t.Dict[t.Tuple[str, str], t.Optional[TATRecord]] = {}
            for entry in page.results:
                algorithm = str(entry.algorithm or "").upper()
                key = (ALGORITHMS.get(algorithm, algorithm.lower()), str(entry.hash_digest or ""))
                updates[key] = None if entry.deleted else TATRecord(tcap_labels(client.raw.get(entry.id, {})))
            yield state.FetchDelta(updates, TATCheckpoint(page.checkpoint) if page.checkpoint else checkpoint)

    @classmethod
    def naive_convert_to_signal_type(cls, signal_types, collab, fetched):  # type: ignore[override]
        # Keys are already (crossmatch type, hash); the sync validates them.
        return {}


def tcap_labels(raw: dict[str, t.Any]) -> dict[str, t.Any]:
    labels = {k: v for k, v in raw.items() if k not in ("hash_digest", "algorithm", "deleted", "id") and v not in (None, "", [])}
    for name in ENTITY_FIELDS[1:]:
        if name in labels and "entity" not in labels:
            labels["entity"] = labels.pop(name)
    if "created_on" in labels:
        labels.setdefault("first_seen", labels.pop("created_on"))
    if "id" in raw:
        labels["tcap_id"] = raw["id"]
    return labels
