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
  ``TOKENIZERS_PARALLELISM=false`` and ``TRANSFORMERS_VERBOSITY=error`` for quiet output.

Only defaults are set: a value the user exported wins.
"""

from __future__ import annotations

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
}


def apply_process_defaults() -> dict[str, str]:
    """Set the defaults above where unset (idempotent). Returns what it set."""
    changed = {}
    for key, value in PROCESS_DEFAULTS.items():
        if key not in os.environ:
            os.environ[key] = value
            changed[key] = value
    return changed
