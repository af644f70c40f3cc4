"""A fresh process for tests/test_storage.py's check of Chroma's index files: threads put a
marker into heap memory and free it before Chroma starts its own threads (which then allocate from
the same memory, as a serving process's do after its request threads end), then either a raw
Chroma collection (``raw``) or Kindred's embedded index (``kindred``) gets its first vectors.
Run it without ``MALLOC_ARENA_MAX``: with glibc's own arenas, which memory Chroma's threads get
is the same every run.

    python tests/heap_worker.py raw|kindred MARKER DIR
"""

from __future__ import annotations

import ctypes
import sys
import threading

import numpy as np


def _free_marker_copies(marker: bytes) -> None:
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    held = []
    for size in (200, 400, 416, 3200, 4000):
        body = (marker + b" ") * (size // len(marker) + 1)
        for _ in range(50):
            block = libc.malloc(size)
            ctypes.memmove(block, body, size)
            held.append(block)
            libc.malloc(24)  # kept: the freed blocks stay apart, in the free lists (not merged
            # into the heap's top, which glibc would give back to the system, zeroed)
    for block in held:
        libc.free(block)


def main(which: str, marker: str, path: str) -> None:
    import chromadb

    from memory.backends.chroma import ChromaVectorIndex
    from memory.scope import Scope

    _free_marker_copies(marker.encode())  # in each arena: the main one and the threads'
    threads = [threading.Thread(target=_free_marker_copies, args=(marker.encode(),))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    vectors = np.random.default_rng(0).normal(size=(5, 384)).astype(np.float32)
    if which == "raw":
        raw = chromadb.PersistentClient(path=path,
                                        settings=chromadb.Settings(anonymized_telemetry=False))
        raw.get_or_create_collection("raw_turns", configuration={"hnsw": {"space": "cosine"}},
                                     embedding_function=None).add(
            ids=[f"x{n}" for n in range(5)], embeddings=vectors.tolist())
        raw.close()
        return
    index = ChromaVectorIndex.embedded(path)
    index.add("turns", Scope("alice"), [f"t{n}" for n in range(5)], vectors,
              [{"ts": float(n)} for n in range(5)])
    index.close()


if __name__ == "__main__":
    main(*sys.argv[1:4])
