"""Process-wide defaults for applications built on Kindred (the CLI, the service, the tests).

Library code never changes the host's environment: importing ``agent`` or ``memory`` leaves
``os.environ`` as it was, and the loaders ask for local files explicitly. An application that owns
its process calls :func:`apply_process_defaults` first thing, before torch, spaCy or Chroma load
(``kindred chat`` and ``kindred serve`` do), because these variables are read once, at load time:

* ``OMP_WAIT_POLICY=PASSIVE``: OpenMP spin-waiting made one embedding take ~490 ms instead of
  ~14 ms on a 2-core machine when another process held a core;
* ``GOMP_SPINCOUNT=100000``: fully passive threads sleep between the many tiny parallel steps of
  llama.cpp's decoding (it shares libgomp with torch): 19 ms per token against 6 ms; a short
  bounded spin first (well under a millisecond) gave 7 ms per token, and a single torch query with
  another process holding a core stayed at ~15 ms (14 ms fully passive);
* ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE``: nothing may download at run time (belt and braces:
  the loaders already read local folders only); ``ANONYMIZED_TELEMETRY=False`` for Chroma;
  ``TOKENIZERS_PARALLELISM=false`` and ``TRANSFORMERS_VERBOSITY=error`` for quiet output;
* ``MALLOC_ARENA_MAX=2``, and the same limit set in the running process (glibc reads the variable
  only when a process starts, ``mallopt`` changes it for arenas made later): glibc gives threads
  arenas of their own (up to 8 per core), and Kindred's threads (the vector writer, the ingest's
  parser, onnxruntime's and the server's workers) left freed memory spread over them. Replaying
  LongMemEval haystacks one after the other (2026-12-01), a process grew from 1,121 MB to
  2,278 MB in six haystacks with glibc's default, and stayed between 1,091 and 1,146 MB with
  this limit.

Only defaults are set: a value the user exported wins.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

__all__ = ["PROCESS_DEFAULTS", "apply_process_defaults"]

PROCESS_DEFAULTS: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "OMP_WAIT_POLICY": "PASSIVE",
    "GOMP_SPINCOUNT": "100000",
    "TOKENIZERS_PARALLELISM": "false",
    "TRANSFORMERS_VERBOSITY": "error",
    "MALLOC_ARENA_MAX": "2",
}
_M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)


def apply_process_defaults() -> dict[str, str]:
    """Set the defaults above where unset (idempotent). Returns what it set."""
    changed = {}
    for key, value in PROCESS_DEFAULTS.items():
        if key not in os.environ:
            os.environ[key] = value
            changed[key] = value
    if "MALLOC_ARENA_MAX" in changed:
        _limit_arenas(int(changed["MALLOC_ARENA_MAX"]))
    return changed


def _limit_arenas(count: int) -> bool:
    """``mallopt(M_ARENA_MAX, count)`` where the C library is glibc; False elsewhere (musl,
    macOS: nothing to do, their allocators work otherwise)."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    libc = ctypes.CDLL(name)
    mallopt = getattr(libc, "mallopt", None)
    return bool(mallopt and mallopt(_M_ARENA_MAX, count) == 1)
