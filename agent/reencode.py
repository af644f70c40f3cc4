"""``kindred memory reencode``: a memory's vectors made again by another embedder, in place.

Why: vectors of two embedders do not compare, so a data dir keeps the name of the one that made
them and refuses another (:meth:`memory.backends.base.VectorIndex.claim_embedder`). Moving a
memory to the int8 weights (1.7x faster bulk ingest) took an export and an import into a new
data dir, user by user. The records are the log and every vector is derived from them, so the
switch is: drop the vectors, record the new embedder, and let the repair derive every vector
again. A process killed half-way leaves a data dir whose vectors all come from one embedder, the
one it names (the turns collection, which carries the name, is dropped last): it opens with that
one (``embedder=auto``), its repair completes what is missing, and running the command again
finishes the switch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent.kindred import Kindred
from agent.repair import RepairReport, repair
from agent.settings import Settings
from memory.backends import open_stores
from memory.embeddings import default_embedder
from memory.errors import ConfigurationError

__all__ = ["Reencoded", "reencode"]


@dataclass(frozen=True)
class Reencoded:
    """What ``reencode`` did: the embedder the vectors were made by before (None: none was
    recorded and there were no vectors), the one they are made by now, and the repair that
    derived them."""

    before: str | None
    after: str
    repair: RepairReport


def reencode(settings: Settings, backend: str,
             progress: Callable[[int, int], Any] | None = None) -> Reencoded:
    """Make every vector of the data dir ``settings`` opens again with the embedder ``backend``
    (``onnx``, ``onnx-int8`` or ``torch``). Stop every other process on the memory first: on
    the server backends nothing stops a running replica from writing meanwhile.
    ``progress(done, total)``: after each user."""
    if backend == "auto":
        raise ConfigurationError("Name the embedder to encode with: onnx, onnx-int8 or torch "
                                 "(auto follows the vectors a data dir already has).")
    embedder = default_embedder(backend, settings.model_cache_dir)
    stores = open_stores(settings.data_dir, settings.storage)
    try:
        before = stores.vectors.recorded_embedder()
        if before != embedder.name:  # the same name: a run cut short, the repair finishes it
            stores.vectors.start_over(embedder.name)
    finally:
        stores.close()
    quiet = settings.model_copy(update={
        "chat_model": "fake",  # as the other memory commands: no model to load
        "storage": settings.storage.model_copy(update={"repair_on_open": False})})
    with Kindred(settings=quiet, embedder=embedder) as bot:
        report = repair(bot, progress)
    return Reencoded(before=before, after=embedder.name, repair=report)
