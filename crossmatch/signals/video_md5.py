"""video_md5: the MD5 of a video file's bytes, the exact-copy video hash shared in
hash lists (python-threatexchange's ``video_md5``).  Kept apart from ``md5`` so
banks and exchanges can say a hash is known to belong to a video.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from crossmatch.settings import Settings
from crossmatch.signals.base import Content, ContentError, Signal
from crossmatch.signals.exact import CryptoHash

_CHUNK = 1 << 20


@dataclass(frozen=True)
class VideoMd5(CryptoHash):
    def hash(self, content: Content) -> list[Signal]:
        if content.data is not None:
            return super().hash(content)
        if content.path is None:
            return []
        # Large videos may arrive as a path only: stream them rather than load them.
        digest = hashlib.md5()
        try:
            with open(content.path, "rb") as fh:
                while chunk := fh.read(_CHUNK):
                    digest.update(chunk)
        except OSError as exc:
            raise ContentError(f"{content.item}: cannot read video file ({exc.strerror or exc})") from None
        return [Signal(self.name, digest.hexdigest())]


def create(settings: Settings) -> VideoMd5:
    return VideoMd5("video_md5", hashlib.md5, 32, content_kinds=frozenset({"video"}))
