"""Settings of the local-feature stage (the ``keypoints`` signal type).

``Settings.keypoints`` (``[keypoints]`` in crossmatch.toml, ``CROSSMATCH_KEYPOINTS__*``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class KeypointSettings(BaseModel):
    enabled: bool = True
    # Images are scaled so the longer side is work_side before detection; tiny ones are
    # enlarged to min_side so ORB's 31-px patches still fit at the coarser pyramid levels.
    work_side: int = 640
    min_side: int = 320
    # Queries are described at a larger size: a pasted picture or a screenshot's picture may
    # be a third of the query's width.  The mirror image at the strongest mirrored_keypoints.
    query_work_side: int = 960
    bank_keypoints: int = 256  # 38 bytes each: 256 keep a bank image under 10 KB
    query_keypoints: int = 1500
    mirrored_keypoints: int = 800
    mirrored: bool = True  # also describe the mirrored query, so mirrored copies match
    min_keypoints: int = 24  # fewer: too flat for local features, PDQ alone decides
    # A query and a bank descriptor further apart than this are not a correspondence.
    descriptor_distance: int = 50
    # Votes count only closer pairs: at 40 bits chance pairs from thousands of unrelated bank
    # images rank far below the true one (a screenshot's picture ranked 1st-23rd, not 38th-90th).
    vote_distance: int = 40
    # Votes and verification: bank images with at least min_inliers voting query keypoints are
    # verified (at most max_verify per query signal) by RANSAC on a similarity transform.
    min_inliers: int = 14  # chosen on the tuning half of eval/images_edits.py (highest wrong match there: 10)
    max_verify: int = 32
    reprojection_px: float = 6.0  # in work-image pixels
    # The agreeing keypoints must span this share of the bank picture: a shared word or logo
    # alone (a few percent of a poster) is not the picture.
    min_matched_area: float = 0.05
    min_scale: float = 0.08
    max_scale: float = 12.0
    # Fast index: descriptor substrings probed within index_radius bits (approximate beyond
    # index_tables * (index_radius + 1) - 1 bits; see crossmatch/index/keypoint_index.py).
    index_tables: int = 8
    index_bits: int = 20
    index_radius: int = 1


def keypoint_settings(settings: Any) -> KeypointSettings:
    """The stage's settings from a Settings object (defaults for objects without them, e.g. in evals)."""
    own = getattr(settings, "keypoints", None)
    return own if isinstance(own, KeypointSettings) else KeypointSettings()
