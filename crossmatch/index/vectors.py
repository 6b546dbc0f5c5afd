"""Inner-product search over unit vectors (text embeddings), keyed by store signal id.

Small banks are searched exactly with numpy (one matrix product, obviously
right).  Past ``ann_min_size`` vectors the index switches to a FAISS IVF index
(inner product, ids = store ids): IVF supports incremental ``add_with_ids`` and
``remove_ids`` natively, trains in seconds, and keeps vectors retrievable for
alignment, which HNSW (no removal) does not.

>>> import numpy as np
>>> idx = VectorIndex(dim=2)
>>> idx.add_vectors([7, 8], np.array([[1, 0], [0, 1]], dtype=np.float32))
>>> scores, ids = idx.search(np.array([[0.6, 0.8]], dtype=np.float32), k=1)
>>> int(ids[0, 0])
8
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from crossmatch.signals.base import IndexHit, Signal

Decoder = Callable[[Signal], np.ndarray]


class VectorIndex:
    def __init__(
        self,
        dim: int,
        decode: Decoder | None = None,
        ann_min_size: int = 200_000,
        nprobe: int = 24,
        max_hits: int = 256,
    ) -> None:
        self.dim = dim
        self._decode = decode
        self.ann_min_size = ann_min_size
        self.nprobe = nprobe
        self.max_hits = max_hits
        # Exact mode storage; grown by doubling so adds stay amortised O(1).
        self._matrix = np.zeros((0, dim), dtype=np.float32)
        self._ids = np.zeros(0, dtype=np.int64)
        self._size = 0
        self._row_of: dict[int, int] = {}
        self._ann = None  # faiss.IndexIVFFlat once large
        self._ann_ids: set[int] = set()
        self._blas = None

    # -- building --------------------------------------------------------------
    def add(self, entries: Iterable[tuple[int, Signal]]) -> None:
        if self._decode is None:
            raise TypeError("this VectorIndex has no signal decoder; use add_vectors")
        ids, rows = [], []
        for signal_id, signal in entries:
            ids.append(int(signal_id))
            rows.append(self._decode(signal))
        if ids:
            self.add_vectors(ids, np.vstack(rows))

    def add_vectors(self, ids: Iterable[int], vectors: np.ndarray) -> None:
        ids = np.asarray(list(ids), dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
        if len(set(ids.tolist())) != len(ids):
            raise ValueError("duplicate signal ids in one add")
        self.remove(ids.tolist())  # re-adding an id replaces its vector
        if self._ann is not None:
            self._ann.add_with_ids(vectors, ids)
            self._ann_ids.update(ids.tolist())
            return
        need = self._size + len(ids)
        if need > len(self._matrix):
            grown = np.zeros((max(need, 2 * len(self._matrix), 64), self.dim), dtype=np.float32)
            grown[: self._size] = self._matrix[: self._size]
            grown_ids = np.zeros(len(grown), dtype=np.int64)
            grown_ids[: self._size] = self._ids[: self._size]
            self._matrix, self._ids = grown, grown_ids
        self._matrix[self._size : need] = vectors
        self._ids[self._size : need] = ids
        for offset, signal_id in enumerate(ids.tolist()):
            self._row_of[signal_id] = self._size + offset
        self._size = need
        if self._size >= self.ann_min_size:
            self._switch_to_ann()

    def remove(self, signal_ids: Iterable[int]) -> None:
        signal_ids = [int(i) for i in signal_ids]
        if self._ann is not None:
            gone = [i for i in signal_ids if i in self._ann_ids]
            if gone:
                self._ann.remove_ids(np.asarray(gone, dtype=np.int64))
                self._ann_ids.difference_update(gone)
            return
        for signal_id in signal_ids:
            row = self._row_of.pop(signal_id, None)
            if row is None:
                continue
            last = self._size - 1
            if row != last:  # move the last row into the hole
                self._matrix[row] = self._matrix[last]
                moved = int(self._ids[last])
                self._ids[row] = moved
                self._row_of[moved] = row
            self._size = last

    def _switch_to_ann(self) -> None:
        import faiss

        data = self._matrix[: self._size]
        # ~sqrt(n) lists (FAISS's rule of thumb), with >= 40 training points per list.
        nlist = int(max(1, min(65536, np.sqrt(self._size), self._size // 40)))
        quantizer = faiss.IndexFlatIP(self.dim)
        ann = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        sample = data[rng.choice(self._size, size=min(self._size, 64 * nlist), replace=False)]
        ann.train(sample)
        ann.set_direct_map_type(faiss.DirectMap.Hashtable)  # reconstruct(id) for alignment
        ann.add_with_ids(data, self._ids[: self._size])
        ann.nprobe = self.nprobe
        self._ann = ann
        self._ann_ids = set(self._ids[: self._size].tolist())
        self._matrix = np.zeros((0, self.dim), dtype=np.float32)
        self._ids = np.zeros(0, dtype=np.int64)
        self._row_of = {}
        self._size = 0

    # -- searching -------------------------------------------------------------
    @property
    def is_approximate(self) -> bool:
        return self._ann is not None

    def __len__(self) -> int:
        return len(self._ann_ids) if self._ann is not None else self._size

    def __contains__(self, signal_id: object) -> bool:
        return signal_id in (self._ann_ids if self._ann is not None else self._row_of)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, ids) per query row, best first; missing slots have id -1."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        k = max(1, int(k))
        if self._ann is not None:
            scores, ids = self._ann.search(queries, k)
            scores[ids < 0] = -np.inf
            return scores, ids
        n = self._size
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        if n == 0:
            return scores, ids
        with self._one_blas_thread():
            sims = queries @ self._matrix[:n].T
        take = min(k, n)
        top = np.argpartition(-sims, take - 1, axis=1)[:, :take]
        top_scores = np.take_along_axis(sims, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        scores[:, :take] = np.take_along_axis(top_scores, order, axis=1)
        ids[:, :take] = self._ids[top]
        return scores, ids

    def _one_blas_thread(self):
        # A post's few chunks against a small bank is a tiny product: BLAS
        # threads cost more to wake than they save (measured 70 ms vs 1 ms
        # on 2 busy cores), so exact search runs on one thread.
        if self._blas is None:
            from threadpoolctl import ThreadpoolController

            self._blas = ThreadpoolController()
        return self._blas.limit(limits=1, user_api="blas")

    def query(self, signal: Signal, threshold: float) -> list[IndexHit]:
        """Bank signals with cosine >= ``threshold`` (at most ``max_hits``, best first)."""
        if self._decode is None:
            raise TypeError("this VectorIndex has no signal decoder")
        scores, ids = self.search(self._decode(signal)[None, :], min(self.max_hits, max(1, len(self))))
        return [IndexHit(int(i), score=float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0 and s >= threshold]

    def vectors(self, signal_ids: Iterable[int]) -> np.ndarray:
        signal_ids = [int(i) for i in signal_ids]
        if self._ann is not None:
            if not signal_ids:
                return np.zeros((0, self.dim), dtype=np.float32)
            return np.vstack([self._ann.reconstruct(i) for i in signal_ids])
        return self._matrix[[self._row_of[i] for i in signal_ids]]

    # -- persistence -----------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write atomically: a crash mid-save leaves the previous file intact."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if self._ann is not None:
            ids = np.asarray(sorted(self._ann_ids), dtype=np.int64)
            matrix = self.vectors(ids.tolist())
        else:
            ids, matrix = self._ids[: self._size], self._matrix[: self._size]
        header = {"dim": self.dim, "ann_min_size": self.ann_min_size, "nprobe": self.nprobe}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8), ids=ids, vectors=matrix)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | Path, decode: Decoder | None = None) -> "VectorIndex":
        with np.load(Path(path), allow_pickle=False) as data:
            header = json.loads(bytes(data["header"]).decode())
            options = {"decode": decode} if decode is not None else {}
            index = cls(header["dim"], ann_min_size=header["ann_min_size"], nprobe=header["nprobe"], **options)
            index.add_vectors(data["ids"].tolist(), data["vectors"])
        return index
