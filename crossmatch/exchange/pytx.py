"""One adapter over python-threatexchange's own exchange implementations.

Each library exchange (fb_threatexchange, ncmec, stop_ncii, tat, local_file,
sample) is driven through its ``fetch_iter(types, checkpoint)``; its records
are turned into signals with the library's own ``naive_convert_to_signal_type``
and every piece of metadata it returns becomes item labels.  The library
checkpoint dataclass is stored as JSON and restored with ``get_checkpoint_cls``.
Tech Against Terrorism goes through :mod:`crossmatch.exchange.tcap` because the
library's TCAP exchange drops the entity / ideology labels we must keep.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import os
from typing import Any, Callable, Iterator

from threatexchange.utils import dataclass_json

from crossmatch.errors import InvalidInput
from crossmatch.exchange.base import Checkpoint, Delta, SourceError, Update
from crossmatch.items import ItemError
from crossmatch.signals.base import Content, Signal

# pytx signal type name -> crossmatch signal type name (same where both exist).
TYPE_MAP = {"pdq": "pdq", "video_md5": "video_md5", "url": "url", "md5": "md5", "sha256": "sha256"}
# pytx's raw_text signals are the text itself: crossmatch hashes them as text_near and keeps no text.
RAW_TEXT = "raw_text"
TextHasher = Callable[[str, str], list[Signal]]
MAX_KEY = 500  # bank item ids (banks.service.MAX_EXTERNAL_ID)
# Metadata too bulky or redundant to keep as labels.
_DROP = {"fingerprints"}


def api_classes() -> dict[str, type]:
    from threatexchange.exchanges.impl.fb_threatexchange_api import FBThreatExchangeSignalExchangeAPI
    from threatexchange.exchanges.impl.file_api import LocalFileSignalExchangeAPI
    from threatexchange.exchanges.impl.ncmec_api import NCMECSignalExchangeAPI
    from threatexchange.exchanges.impl.static_sample import StaticSampleSignalExchangeAPI
    from threatexchange.exchanges.impl.stop_ncii_api import StopNCIISignalExchangeAPI

    from crossmatch.exchange.tcap import LabelledTATSignalExchangeAPI

    classes = [FBThreatExchangeSignalExchangeAPI, NCMECSignalExchangeAPI, StopNCIISignalExchangeAPI,
               LabelledTATSignalExchangeAPI, LocalFileSignalExchangeAPI, StaticSampleSignalExchangeAPI]
    out = {cls.get_name(): cls for cls in classes}
    out["techagainstterrorism"] = LabelledTATSignalExchangeAPI
    return out


def pytx_signal_types() -> list[type]:
    from threatexchange.signal_type.md5 import VideoMD5Signal
    from threatexchange.signal_type.pdq.signal import PdqSignal
    from threatexchange.signal_type.raw_text import RawTextSignal
    from threatexchange.signal_type.url import URLSignal

    return [PdqSignal, VideoMD5Signal, URLSignal, RawTextSignal, _tmk_signal_type()]


def _tmk_signal_type() -> type:
    """TMK+PDQF as python-threatexchange sees it, so its ThreatExchange client keeps HASH_TMK
    descriptors (the library only plans the type). Only converts: hashing and matching are ours."""
    from threatexchange.content_type.video import VideoContent
    from threatexchange.exchanges.impl.fb_threatexchange_signal import HasFbThreatExchangeIndicatorType
    from threatexchange.signal_type import signal_base

    from crossmatch.signals import tmk_features

    class TmkPdqfSignal(signal_base.SimpleSignalType, HasFbThreatExchangeIndicatorType):
        INDICATOR_TYPE = "HASH_TMK"

        @classmethod
        def get_name(cls) -> str:
            return "tmk_pdqf"

        @classmethod
        def get_content_types(cls) -> list:
            return [VideoContent]

        @classmethod
        def validate_signal_str(cls, signal_str: str) -> str:
            return tmk_features.encode_value(tmk_features.decode_value(signal_str))

        @classmethod
        def compare_hash(cls, hash1: str, hash2: str):  # never used: crossmatch's own type matches
            raise NotImplementedError("TMK+PDQF is matched by crossmatch's tmk_pdqf type")

        @staticmethod
        def get_examples() -> list[str]:
            return []

    return TmkPdqfSignal


class PytxSource:
    """``config``: ``api``, ``collab`` (the library's collaboration config fields),
    optional ``base_url`` (ThreatExchange / TCAP / NCMEC endpoint), ``credentials_env``
    (environment variable holding the credential string; default: the
    library's own lookup, e.g. TX_ACCESS_TOKEN, PYTX_TAT_CREDENTIALS) and
    ``timeout_s``; ``feedback_reason`` (NCMEC: the reason id sent with a false positive, see
    crossmatch/exchange/feedback.py).  ``text_hasher(key, text)`` turns pytx ``raw_text``
    records into ``text_near`` signals (without one they are reported as bad records)."""

    def __init__(self, name: str, api_cls: type, collab: Any, config: dict[str, Any], text_hasher: TextHasher | None = None) -> None:
        self.name = name
        self.api_cls = api_cls
        self.collab = collab
        self.config = config
        self.text_hasher = text_hasher

    @classmethod
    def from_config(cls, name: str, config: dict[str, Any], text_hasher: TextHasher | None = None) -> "PytxSource":
        apis = api_classes()
        api_name = config.get("api")
        if api_name not in apis:
            raise InvalidInput(f"exchange {name!r}: api {api_name!r} is not a python-threatexchange exchange; use one of {', '.join(sorted(apis))}")
        api_cls = apis[api_name]
        collab_cls = api_cls.get_config_cls()
        fields = {f.name for f in dataclasses.fields(collab_cls) if f.init}
        given = dict(config.get("collab") or {})
        unknown = set(given) - fields
        if unknown:
            raise InvalidInput(f"exchange {name!r}: {api_name} has no collab setting(s) {sorted(unknown)}; it takes {sorted(fields - {'name', 'api', 'enabled'})}")
        defaults = {"name": name, "api": api_cls.get_name(), "enabled": True}
        kwargs = {**{k: v for k, v in defaults.items() if k in fields}, **given}
        try:
            collab = collab_cls(**_enums(collab_cls, kwargs))
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"exchange {name!r}: collab settings for {api_name} are incomplete: {exc}") from None
        return cls(name, api_cls, collab, config, text_hasher)

    def snapshot(self, checkpoint: Checkpoint | None) -> bool:
        from threatexchange.exchanges import fetch_state

        cp_cls = self.api_cls.get_checkpoint_cls()
        if checkpoint is None or not dataclasses.fields(cp_cls) or issubclass(cp_cls, fetch_state.NoCheckpointing):
            return True  # no way to tail: every run is a full read
        return self._restore(checkpoint).is_stale()

    def fetch(self, checkpoint: Checkpoint | None) -> Iterator[Delta]:
        api = self._api()
        types = pytx_signal_types()
        restored = None if checkpoint is None else self._restore(checkpoint)
        for delta in api.fetch_iter(types, restored):
            updates: list[Update] = []
            errors: list[ItemError] = []
            for key, value in delta.updates.items():
                skey = _key(key)
                if value is None:
                    updates.append(Update(skey, deleted=True))
                    continue
                try:
                    signals = self._signals(types, key, value)
                except ValueError as exc:
                    errors.append(ItemError(skey, str(exc)))
                    continue
                if not signals:
                    errors.append(ItemError(skey, f"{self.api_cls.get_name()} record has no signal type crossmatch knows; skipped"))
                    continue
                is_text = isinstance(key, tuple) and key[0] == RAW_TEXT
                updates.append(Update(skey, signals, labels_of(value), content_kind="text" if is_text else None))
            cp = delta.checkpoint
            yield Delta(updates, None if cp is None else dataclass_json.dataclass_dump_dict(cp), errors)

    # -- helpers -------------------------------------------------------------
    def _api(self) -> Any:
        from threatexchange.exchanges import auth

        creds = None
        try:
            if issubclass(self.api_cls, auth.SignalExchangeWithAuth):
                cred_cls = self.api_cls.get_credential_cls()
                env = self.config.get("credentials_env")
                if env:
                    if not os.environ.get(env):
                        raise SourceError(f"exchange {self.name!r}: environment variable {env} is empty; set it to the {self.api_cls.get_name()} credentials")
                    creds = cred_cls._from_str(os.environ[env])
                else:
                    creds = cred_cls.get(self.api_cls)
            return self._construct(creds)
        except (auth.SignalExchangeAPIMissingAuthException, auth.SignalExchangeAPIInvalidAuthException) as exc:
            cred_cls = self.api_cls.get_credential_cls()
            where = " or ".join(x for x in (f"environment variable {cred_cls.ENV_VARIABLE}" if cred_cls.ENV_VARIABLE else "",
                                            f"file {cred_cls.FILE_NAME}" if cred_cls.FILE_NAME else "") if x)
            kind = "invalid" if isinstance(exc, auth.SignalExchangeAPIInvalidAuthException) else "no"
            raise SourceError(f"exchange {self.name!r}: {kind} {self.api_cls.get_name()} credentials; put them in {where}, "
                              f"or name another variable with -c credentials_env=VAR") from None

    def _construct(self, creds: Any) -> Any:
        name = self.api_cls.get_name()
        base_url = self.config.get("base_url")
        if name == "fb_threatexchange":
            from threatexchange.exchanges.clients.fb_threatexchange.api import ThreatExchangeAPI

            client = ThreatExchangeAPI(creds.api_token, endpoint_override=base_url)
            return self.api_cls(client, self.collab)
        if name == "tat":
            return self.api_cls(creds.username, creds.password, base_url=base_url, timeout=float(self.config.get("timeout_s", 60)))
        if name == "ncmec" and base_url:
            from crossmatch.exchange.ncmec import NCMECExchangeAPI

            return NCMECExchangeAPI(self.collab, creds.user, creds.password, base_url)
        if base_url:
            raise SourceError(f"exchange {self.name!r}: base_url is only supported for fb_threatexchange, tat and ncmec")
        return self.api_cls.for_collab(self.collab, creds) if creds is not None else self.api_cls.for_collab(self.collab)

    def _restore(self, checkpoint: Checkpoint) -> Any:
        # The library's own (de)serialiser, as HMA stores checkpoints: nested dataclasses (NCMEC paging) survive.
        return dataclass_json.dataclass_load_dict(checkpoint, self.api_cls.get_checkpoint_cls())

    def _signals(self, types: list[type], key: Any, value: Any) -> list[tuple[str, str] | Signal]:
        converted = self.api_cls.naive_convert_to_signal_type(types, self.collab, {key: value})
        pairs: list[tuple[str, str] | Signal] = []
        for st, found in converted.items():
            for sig in found:
                if st.get_name() == RAW_TEXT and self.text_hasher is not None:
                    pairs.extend(self._text_near(_key(key), sig))
                else:
                    pairs.append((TYPE_MAP.get(st.get_name(), st.get_name()), sig))
        if not pairs and isinstance(key, tuple) and len(key) == 2:
            # The library drops values it cannot parse without a word; pass them on so our validation names the reason.
            pairs = [(TYPE_MAP.get(str(key[0]), str(key[0]).lower()), str(key[1]))]
        return pairs

    def _text_near(self, key: str, text: str) -> list[Signal]:
        assert self.text_hasher is not None
        signals = self.text_hasher(key, text)
        if not signals:
            raise ValueError(f"raw_text record ({len(text)} characters) is too short for a text_near signal; skipped")
        return signals


def _enums(collab_cls: type, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Enum settings given as text (NCMEC's ``environment``: a name such as ``test_Industry``, or its URL)."""
    import typing

    hints = typing.get_type_hints(collab_cls)
    out = dict(kwargs)
    for key, value in kwargs.items():
        kind = hints.get(key)
        if isinstance(kind, type) and issubclass(kind, enum.Enum) and isinstance(value, str):
            if value in kind.__members__:
                out[key] = kind[value]
            else:
                try:
                    out[key] = kind(value)
                except ValueError:
                    raise ValueError(f"{key} must be one of {', '.join(kind.__members__)}, not {value!r}") from None
    return out


def _key(key: Any) -> str:
    if isinstance(key, tuple) and len(key) == 2 and key[0] == RAW_TEXT:
        # The source key is stored: a digest, so the bank keeps no copy of the text.
        return f"{RAW_TEXT}:sha256:{hashlib.sha256(str(key[1]).encode()).hexdigest()[:32]}"
    joined = ":".join(str(k) for k in key) if isinstance(key, tuple) else str(key)
    if len(joined) > MAX_KEY and isinstance(key, tuple) and len(key) == 2:
        # A TMK hash is 351,125 characters; item ids hold 500. Shorter keys stay as they always were.
        return f"{key[0]}:sha256:{hashlib.sha256(str(key[1]).encode()).hexdigest()}"
    return joined


def text_near_hasher(registry: Any) -> TextHasher:
    """``raw_text`` -> crossmatch ``text_near`` signals with the installation's own settings."""

    def hash_text(key: str, text: str) -> list[Signal]:
        signal_type = registry.get("text_near")
        return [s for s in signal_type.hash(Content(key, "text", text=text)) if not s.meta.get("query_only")]

    return hash_text


def labels_of(value: Any) -> dict[str, Any]:
    """Every piece of record metadata as labels; opinions also summarised as tags and a status."""
    if isinstance(getattr(value, "labels", None), dict):
        return dict(value.labels)
    labels: dict[str, Any] = {}
    if dataclasses.is_dataclass(value):
        labels = {k: v for k, v in _jsonable(dataclasses.asdict(value)).items() if k not in _DROP and v not in (None, [], {})}
    # The base record's single "trivial" opinion says nothing; only real opinions become labels.
    opinions = value.get_as_opinions() if hasattr(value, "get_as_opinions") and dataclasses.fields(value) else []
    if opinions:
        tags = sorted({tag for o in opinions for tag in o.tags})
        if tags:
            labels["tags"] = tags
        categories = {o.category.name.lower() for o in opinions}
        labels["status"] = categories.pop() if len(categories) == 1 else "disputed"
    return labels


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, enum.Enum):
        return value.name.lower() if isinstance(value, enum.IntEnum) else value.value
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
