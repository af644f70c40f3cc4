"""Process-wide environment defaults that must be set before torch or Chroma are imported.

Why: nothing may download at run time (``HF_HUB_OFFLINE``), Chroma must not phone home
(``ANONYMIZED_TELEMETRY``), and OpenMP spin-waiting made one embedding take ~490 ms instead of
~14 ms on a 2-core machine when another process held a core (``OMP_WAIT_POLICY=PASSIVE``).
Fully passive threads, though, sleep between the many tiny parallel steps of llama.cpp's decoding
(it shares libgomp with torch): 19 ms per token against 6 ms. A short bounded spin first
(``GOMP_SPINCOUNT=100000``, well under a millisecond) gave 7 ms per token, and a single torch
query with another process holding a core stayed at ~15 ms (14 ms fully passive).
Only defaults are set: a user's explicit environment wins.
"""

from __future__ import annotations

import os

__all__ = ["apply_offline_defaults"]

_DEFAULTS = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "OMP_WAIT_POLICY": "PASSIVE",
    "GOMP_SPINCOUNT": "100000",
    "TOKENIZERS_PARALLELISM": "false",
    "TRANSFORMERS_VERBOSITY": "error",
}


def apply_offline_defaults() -> None:
    """Set Kindred's environment defaults (idempotent; existing values are kept)."""
    for key, value in _DEFAULTS.items():
        os.environ.setdefault(key, value)


apply_offline_defaults()
