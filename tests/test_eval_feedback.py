"""`kindred eval feedback`: the generated stream, its targets, near-misses and the report files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from evals.feedback import UNRELATED, generate_requests, run_feedback_stream
from memory.feedback import FeedbackConfig, FeedbackMemory

KINDRED = str(Path(sys.executable).parent / "kindred")


def test_generator_keeps_held_out_paraphrases_apart():
    requests = generate_requests()
    kinds = {r.kind for r in requests}
    assert len(kinds) >= 30 and all(
        sorted(r.paraphrase for r in requests if r.kind == k) == list(range(6)) for k in kinds)
    texts = {r.text for r in requests}
    assert len(texts) == len(requests) and not texts & set(UNRELATED)


def test_stream_meets_the_targets_with_the_calibrated_threshold(stores, embedder):
    report = run_feedback_stream(FeedbackMemory(stores, embedder))
    assert report["hit_rate"] >= 0.90 and report["false_match_rate"] <= 0.02
    assert report["memory_size"] == len({r.kind for r in generate_requests()})
    assert report["log"][0] == {"step": 0, "memory_size": 1, "matched": False, "right": False,
                                "understood": False, "score": None}


def test_threshold_behaviour_on_near_misses(stores, embedder):
    fb = FeedbackMemory(stores, embedder)
    fb.add("u", "Recommend a Thai restaurant for tonight.", "I am vegetarian.", 0.0)
    assert fb.lookup("u", "Any good Thai restaurants for dinner tonight?") is not None
    assert fb.lookup("u", "Recommend a good book for tonight.") is None
    strict = FeedbackMemory(stores, embedder, FeedbackConfig(threshold=0.95))
    assert strict.lookup("u", "Any good Thai restaurants for dinner tonight?") is None


def test_cli_writes_json_and_learning_curve(tmp_path):
    out, plot = tmp_path / "fb.json", tmp_path / "fb.png"
    res = subprocess.run([KINDRED, "eval", "feedback", "--json", str(out), "--plot", str(plot)],
                         capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr
    report = json.loads(out.read_text())
    assert {"steps", "hit_rate", "false_match_rate", "memory_size"} <= set(report)
    assert plot.read_bytes()[:4] == b"\x89PNG"
    bad = subprocess.run([KINDRED, "eval", "feedback", "--mode", "fuzzy"], capture_output=True,
                         text=True, timeout=120, check=False)
    assert bad.returncode == 2 and "dense or lexical" in bad.stderr
