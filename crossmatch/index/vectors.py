"""Inner-product search over unit vectors (text embeddings), keyed by store signal id.

Small banks are searched exactly with numpy (one matrix product, obviously
right).  Past ``ann_min_size`` vectors the index switches to a FAISS IVF index
(inner product, ids = store ids): IVF supports incremental ``add_with_ids`` and
``remove_ids`` natively, trains in seconds, and keeps vectors retrievable for
alignment, which HNSW (no removal) does not; on e5-like vectors HNSW also gave
no better recall per millisecond (bench/results/text_match.md).

The IVF index is re-trained (more lists) each time it grows ``RETRAIN_GROWTH``
times past the size it was trained at, so a bank that grows from 50k to 1M
chunks does not end with lists sized for 50k.  ``nprobe`` defaults to a share
of the lists (``probe_share``): recall depends on the share of the bank
scanned, not on the number of lists.

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


RETRAIN_GROWTH = 4
# How the IVF index stores vectors.  fp16 is what text_xling signals store
# anyway (so it loses nothing) and halves the bytes a search reads; 8bit
# quarters them at a small recall cost; flat is float32.
CODECS = ("fp16", "8bit", "flat", "pq")  # pq: IVF-PQ, for text vectors past one box's memory (docs/scale.md)
# Searches of up to this many rows run on one thread (FAISS's OpenMP, BLAS):
# waking threads for a post's few chunks costs more than it saves on busy
# cores, and the embedding model wants them anyway.
SMALL_BATCH = 16


# Share of IVF lists scanned per query.  Chosen for recall over latency: on a padded 1M-chunk
# bank 8% kept 0.90 of the exact top-16 and 102/120 translation decisions (lookup p50 27 ms),
# 16% keeps 0.97 and 106/120 (p50 43 ms); at 100k, 0.82 -> 0.94 and 93 -> 109/120 for 1 ms
# (bench/results/text_match.md).  A missed translation costs a review team more than 15 ms.
DEFAULT_PROBE_SHARE = 0.16


class VectorIndex:
    def __init__(
        self,
        dim: int,
        decode: Decoder | None = None,
        ann_min_size: int = 50_000,
        nprobe: int | None = None,
        max_hits: int = 256,
        probe_share: float = DEFAULT_PROBE_SHARE,
        codec: str = "fp16",
    ) -> None:
        if codec not in CODECS:
            raise ValueError(f"unknown vector codec {codec!r}; use one of {', '.join(CODECS)}")
        self.dim = dim
        self.codec = codec
        self._decode = decode
        self.ann_min_size = ann_min_size
        self._nprobe = nprobe
        self.probe_share = probe_share
        self.max_hits = max_hits
        self._trained_size = 0
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
        ids = np.asarray(ids if isinstance(ids, np.ndarray) else list(ids), dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
        if len(set(ids.tolist())) != len(ids):
            raise ValueError("duplicate signal ids in one add")
        self.remove(ids.tolist())  # re-adding an id replaces its vector
        if self._ann is not None:
            self._ann.add_with_ids(vectors, ids)
            self._ann_ids.update(ids.tolist())
            if len(self._ann_ids) >= RETRAIN_GROWTH * self._trained_size:
                self._build_ann(*self._ann_contents())
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
        self._build_ann(self._ids[: self._size].copy(), self._matrix[: self._size])
        self._matrix = np.zeros((0, self.dim), dtype=np.float32)
        self._ids = np.zeros(0, dtype=np.int64)
        self._row_of = {}
        self._size = 0

    @staticmethod
    def lists_for(n: int) -> int:
        """IVF lists for ``n`` vectors: 2 * sqrt(n) (FAISS suggests 1-16x), >= 40 training points each."""
        return int(max(1, min(65536, 2 * np.sqrt(n), n // 40)))

    def _build_ann(self, ids: np.ndarray, data: np.ndarray) -> None:
        import faiss

        n = len(ids)
        nlist = self.lists_for(n)
        quantizer = faiss.IndexFlatIP(self.dim)
        if self.codec == "flat":
            ann = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        elif self.codec == "pq":  # dim/8 sub-quantizers of 8 bits: 48 bytes a 384-d vector instead of 768 (fp16)
            ann = faiss.IndexIVFPQ(quantizer, self.dim, nlist, pq_subquantizers(self.dim), 8, faiss.METRIC_INNER_PRODUCT)
        else:
            kind = {"fp16": faiss.ScalarQuantizer.QT_fp16, "8bit": faiss.ScalarQuantizer.QT_8bit}[self.codec]
            ann = faiss.IndexIVFScalarQuantizer(quantizer, self.dim, nlist, kind, faiss.METRIC_INNER_PRODUCT, False)
        ann.cp.niter = 10  # k-means converges well enough for IVF (recall measured in the bench)
        rng = np.random.default_rng(0)
        wanted = 40 * nlist if self.codec != "pq" else max(40 * nlist, 256 * 40)  # PQ codebooks need their own sample
        sample = data[rng.choice(n, size=min(n, wanted), replace=False)]
        ann.train(np.ascontiguousarray(sample))
        ann.set_direct_map_type(faiss.DirectMap.Hashtable)  # reconstruct(id) for alignment
        for start in range(0, n, 100_000):
            ann.add_with_ids(np.ascontiguousarray(data[start : start + 100_000]), ids[start : start + 100_000])
        ann.nprobe = self._nprobe_for(nlist)
        self._ann = ann
        self._ann_ids = set(ids.tolist())
        self._trained_size = n

    def _nprobe_for(self, nlist: int) -> int:
        if self._nprobe is not None:
            return min(nlist, self._nprobe)
        return int(min(nlist, max(8, np.ceil(self.probe_share * nlist))))

    @property
    def nprobe(self) -> int | None:
        return self._ann.nprobe if self._ann is not None else self._nprobe

    @nprobe.setter
    def nprobe(self, value: int | None) -> None:
        self._nprobe = value
        if self._ann is not None:
            self._ann.nprobe = self._nprobe_for(self._ann.nlist)

    def _ann_contents(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of the IVF index, read list by list (no per-id reconstruct)."""
        import faiss

        lists = self._ann.invlists
        ids, rows = [], []
        for list_no in range(self._ann.nlist):
            size = lists.list_size(list_no)
            if size:
                ids.append(faiss.rev_swig_ptr(lists.get_ids(list_no), size).copy())
                if self.codec == "pq":  # lossy codes: decoded through the index (direct map)
                    rows.append(self._ann.reconstruct_batch(ids[-1]))
                    continue
                codes = faiss.rev_swig_ptr(lists.get_codes(list_no), size * lists.code_size).copy()
                if self.codec == "flat":
                    rows.append(codes.view(np.float32).reshape(size, self.dim))
                else:
                    rows.append(self._ann.sq.decode(codes.reshape(size, lists.code_size)))
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros((0, self.dim), dtype=np.float32)
        ids_all, rows_all = np.concatenate(ids), np.vstack(rows)
        order = np.argsort(ids_all, kind="stable")
        return ids_all[order], rows_all[order]

    def memory_bytes(self) -> int:
        """Bytes held by the index's vectors, ids and id maps (estimated for Python containers)."""
        if self._ann is None:
            return self._matrix.nbytes + self._ids.nbytes + 100 * len(self._row_of)
        n = len(self._ann_ids)
        # vectors + ids in the lists, the id -> slot hash map (~32 B), the centroids, our id set (~60 B)
        return n * (self._ann.code_size + 8 + 32 + 60) + 4 * self.dim * self._ann.nlist

    def describe(self) -> str:
        if self._ann is None:
            return "exact numpy"
        return f"FAISS IVF {self.codec} ({self._ann.nlist} lists, nprobe {self._ann.nprobe})"

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
            if len(queries) <= SMALL_BATCH:
                with _faiss_threads(1):
                    scores, ids = self._ann.search(queries, k)
            else:
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
            return self._ann.reconstruct_batch(np.asarray(signal_ids, dtype=np.int64))
        return self._matrix[[self._row_of[i] for i in signal_ids]]

    # -- persistence -----------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write atomically: a crash mid-save leaves the previous file intact."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        extra = {}
        if self._ann is not None and self.codec == "pq":
            import faiss

            # Trained once: the snapshot keeps the trained index itself, so a load never re-trains.
            ids, matrix = np.array(sorted(self._ann_ids), dtype=np.int64), np.zeros((0, self.dim), np.float32)
            extra["faiss"] = faiss.serialize_index(self._ann)
        elif self._ann is not None:
            ids, matrix = self._ann_contents()
        else:
            ids, matrix = self._ids[: self._size], self._matrix[: self._size]
        header = self._header()
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8), ids=ids, vectors=matrix, **extra)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | Path, decode: Decoder | None = None) -> "VectorIndex":
        with np.load(Path(path), allow_pickle=False) as data:
            header = json.loads(bytes(data["header"]).decode())
            options = {"decode": decode} if decode is not None else {}
            # "nprobe" in older snapshots was the fixed default, not a choice: it is not restored.
            index = cls(header["dim"], ann_min_size=header["ann_min_size"], nprobe=header.get("fixed_nprobe"),
                        probe_share=header.get("probe_share", DEFAULT_PROBE_SHARE), codec=header.get("codec", "fp16"), **options)
            index._restore(header)
            if "faiss" in data:
                import faiss

                index._ann = faiss.deserialize_index(np.ascontiguousarray(data["faiss"]))
                index._ann_ids = set(data["ids"].tolist())
                index._trained_size = len(index._ann_ids)
                index._ann.nprobe = index._nprobe_for(index._ann.nlist)
            else:
                index.add_vectors(data["ids"], data["vectors"])
        return index

    def _header(self) -> dict:
        """What a snapshot records besides ids and vectors (subclasses add their own keys)."""
        return {"dim": self.dim, "ann_min_size": self.ann_min_size, "fixed_nprobe": self._nprobe,
                "probe_share": self.probe_share, "codec": self.codec}

    def _restore(self, header: dict) -> None:
        """Counterpart of :meth:`_header`, called on a fresh index before the vectors are added."""


def pq_subquantizers(dim: int) -> int:
    """The most sub-quantizers up to dim/8 that divide ``dim`` (FAISS needs an exact split)."""
    return next(m for m in range(max(1, dim // 8), 0, -1) if dim % m == 0)


class _faiss_threads:
    """Run FAISS with ``n`` OpenMP threads inside the block (restored after)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __enter__(self):
        import faiss

        self._before = faiss.omp_get_max_threads()
        if self._before != self.n:
            faiss.omp_set_num_threads(self.n)
        return self

    def __exit__(self, *exc) -> None:
        import faiss

        if self._before != self.n:
            faiss.omp_set_num_threads(self._before)
