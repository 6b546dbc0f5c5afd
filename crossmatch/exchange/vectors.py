"""Quantised sharing of embedding signals (text_xling): int8 instead of float16.

Embeddings can be inverted to approximate the text they came from, so sharing
them shares some content; int8 halves the size and coarsens the vector a
little (cosine to the original stays above 0.99).  A receiving crossmatch
turns it back into a unit float16 vector on import.
"""

from __future__ import annotations

import base64
import binascii

import numpy as np

from crossmatch.signals.base import InvalidSignal, Signal

VECTOR_TYPES = ("text_xling",)


def quantize(signal: Signal) -> Signal:
    if signal.type not in VECTOR_TYPES or signal.meta.get("quantized"):
        return signal
    vector = np.frombuffer(base64.b64decode(signal.value), dtype="<f2").astype(np.float32)
    peak = float(np.max(np.abs(vector))) or 1.0
    q = np.clip(np.round(vector / peak * 127.0), -127, 127).astype(np.int8)
    return Signal(signal.type, base64.b64encode(q.tobytes()).decode("ascii"), signal.quality, {**signal.meta, "quantized": "int8"})


def dequantize(signal: Signal) -> Signal:
    """Back to the unit float16 vector the signal type validates; meta loses the marker."""
    meta = {k: v for k, v in signal.meta.items() if k != "quantized"}
    if signal.meta.get("quantized") != "int8":
        raise InvalidSignal(f"unknown quantisation {signal.meta.get('quantized')!r}; crossmatch reads int8")
    try:
        q = np.frombuffer(base64.b64decode(signal.value, validate=True), dtype=np.int8).astype(np.float32)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSignal(f"quantised vector is not base64: {exc}") from None
    norm = float(np.linalg.norm(q))
    if not q.size or norm == 0.0:
        raise InvalidSignal("quantised vector is empty or all zero")
    vector = (q / norm).astype("<f2")
    return Signal(signal.type, base64.b64encode(vector.tobytes()).decode("ascii"), signal.quality, meta)
