"""``kindred memory reencode``: a memory's vectors made again by another embedder, in place, on
the real stores; a run cut short is finished by the next open."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent import Kindred
from agent.reencode import reencode
from agent.settings import Settings
from memory.backends import open_stores
from memory.embeddings import default_embedder
from memory.errors import ConfigurationError
from memory.scope import as_scope

KINDRED = str(Path(sys.executable).parent / "kindred")
T0 = 1_700_000_000.0
KINDS = ("turns", "events", "traits", "feedback", "pieces")
INT8 = "all-MiniLM-L6-v2 int8 fused"
RETIRED = "all-MiniLM-L6-v2 int8"  # the int8 model before its attention was fused


def _memory(data_dir: Path, embedder) -> tuple[dict[str, int], list[str]]:
    """A memory of every kind (turns, a long turn's pieces, an event, traits, a correction),
    made with ``embedder``; its vector counts and the top turn of a few queries."""
    with Kindred(data_dir, "fake", embedder=embedder) as bot:
        bot.chat("ann", "I adopted a greyhound called Pixel last spring.", at=T0)
        bot.chat("ann", "I work as a nurse at the children's hospital in Porto.", at=T0 + 60)
        bot.chat("ann", "Here is my essay. " + "The tides follow the moon. " * 60, at=T0 + 120)
        bot.feedback("ann", "Call me Annie, not Ann.", at=T0 + 180)
        bot.end_session("ann", at=T0 + 240)
        return _counts(bot), _tops(bot)


def _counts(bot) -> dict[str, int]:
    return {kind: bot.memory.stores.vectors.count(kind, as_scope("ann")) for kind in KINDS}


def _tops(bot) -> list[str]:
    return [bot.recall("ann", q, min_score=None).turns[0].id
            for q in ("my dog", "where do I work", "what pulls the tides")]


def test_reencode_makes_every_vector_again_with_the_new_embedder(tmp_path, embedder):
    data_dir = tmp_path / "data"
    counts, tops = _memory(data_dir, embedder)
    assert all(counts.values()), counts  # every kind has vectors to make again

    done = reencode(Settings(data_dir=data_dir), "onnx-int8")
    assert (done.before, done.after) == ("all-MiniLM-L6-v2", INT8)
    assert done.repair.vectors_added == counts

    int8 = default_embedder("onnx-int8")
    with Kindred(data_dir, "fake") as bot:  # auto: the embedder the vectors name
        assert bot.memory.embedder.name == INT8 and not bot.last_repair.changed
        assert _counts(bot) == counts
        assert _tops(bot) == tops
        ids, texts, vectors = bot.memory.turns.all_vectors("ann")
        stored = vectors[ids.index("ann/s0001/0")]
        key = "ann: I adopted a greyhound called Pixel last spring."
        assert float(stored @ int8.embed([key])[0]) > 0.9999  # made by int8 ...
        assert float(stored @ embedder.embed([key])[0]) < 0.999  # ... not left from fp32
    with pytest.raises(ConfigurationError, match="onnx-int8 or to auto"):
        Kindred(data_dir, "fake", embedder=embedder)


def test_a_reencode_cut_short_is_finished_by_the_next_open(tmp_path, embedder):
    """Killed right after the vectors were dropped: the dir names the new embedder, the next
    open derives every vector with it, and running the command again changes nothing more."""
    data_dir = tmp_path / "data"
    counts, tops = _memory(data_dir, embedder)
    stores = open_stores(data_dir)
    stores.vectors.start_over(INT8)
    stores.close()
    with Kindred(data_dir, "fake") as bot:
        assert bot.memory.embedder.name == INT8
        assert bot.last_repair.vectors_added == counts
        assert _tops(bot) == tops
    again = reencode(Settings(data_dir=data_dir), "onnx-int8")
    assert again.before == again.after == INT8 and not again.repair.changed


def test_a_memory_of_the_retired_int8_model_is_refused_until_it_is_reencoded(tmp_path, embedder):
    """The int8 model an earlier Kindred made (attention unfused) is no longer shipped: ``auto``
    takes its successor, whose vectors do not compare with the old ones, so the dir is refused
    with the command that moves it, and nothing is derived into it; after that command it opens
    and ranks as before."""
    data_dir = tmp_path / "data"
    counts, tops = _memory(data_dir, embedder)
    stores = open_stores(data_dir)
    stores.vectors.start_over(RETIRED)  # what such a dir records (its vectors left aside)
    stores.close()
    for choice in ({}, {"embedder": default_embedder("onnx-int8")}):
        with pytest.raises(ConfigurationError, match=f"made by '{RETIRED}', an embedder this "
                           r"Kindred no longer ships.*`kindred memory reencode --embedder "
                           r"onnx-int8`"):
            Kindred(data_dir, "fake", **choice)
    stores = open_stores(data_dir)
    assert stores.vectors.recorded_embedder() == RETIRED
    assert stores.vectors.count("turns", as_scope("ann")) == 0  # nothing derived meanwhile
    stores.close()
    done = reencode(Settings(data_dir=data_dir), "onnx-int8")
    assert (done.before, done.after) == (RETIRED, INT8)
    with Kindred(data_dir, "fake") as bot:
        assert bot.memory.embedder.name == INT8 and _counts(bot) == counts
        assert _tops(bot) == tops


def test_reencode_needs_a_named_embedder(tmp_path, embedder):
    _memory(tmp_path / "data", embedder)
    with pytest.raises(ConfigurationError, match="onnx, onnx-int8 or torch"):
        reencode(Settings(data_dir=tmp_path / "data"), "auto")


def test_the_command_reencodes_and_says_how_to_open_it(tmp_path, embedder):
    data_dir = tmp_path / "data"
    counts, _ = _memory(data_dir, embedder)
    res = subprocess.run([KINDRED, "memory", "reencode", "--embedder", "onnx-int8",
                          "--data-dir", str(data_dir)], capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr
    out = " ".join(res.stdout.split())
    assert f"{sum(counts.values())} vectors made by {INT8} (they were made by " \
           "all-MiniLM-L6-v2)" in out and "KINDRED_EMBEDDER=onnx-int8" in out
    bad = subprocess.run([KINDRED, "memory", "reencode", "--embedder", "bert",
                          "--data-dir", str(data_dir)], capture_output=True, text=True,
                         timeout=600)
    assert bad.returncode == 2 and "Unknown embedder backend 'bert'" in bad.stderr
