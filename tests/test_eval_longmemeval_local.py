"""`kindred eval longmemeval --qa` with the embedded local model answering and judging."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from test_eval_longmemeval import KINDRED, _dataset

pytestmark = pytest.mark.slow  # loads the local model: `make test-fast` leaves it out


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "lme.json"
    path.write_text(json.dumps(_dataset()))
    return path


def test_qa_runs_end_to_end_with_the_local_model_answering_and_judging(data, tmp_path):
    """``--qa --model local --judge local``: the embedded SmolLM2 answers each question from
    what Kindred recalls and judges each answer with LongMemEval's prompt."""
    out = tmp_path / "qa.json"
    env = {**os.environ, "KINDRED_GENERATION__MAX_NEW_TOKENS": "24"}
    res = subprocess.run([KINDRED, "eval", "longmemeval", "--data", str(data), "--k", "3",
                          "--qa", "--model", "local", "--judge", "local", "--json", str(out)],
                         capture_output=True, text=True, timeout=900, env=env)
    assert res.returncode == 0, res.stderr
    qa = json.loads(out.read_text())["qa"]
    assert qa["judged"] == 3 and 0.0 <= qa["accuracy"] <= 1.0
    assert [a["question_id"] for a in qa["answers"]] == ["q0", "q1", "q2_abs"]
    assert all(a["response"].strip() and isinstance(a["judge_correct"], bool)
               for a in qa["answers"])
    assert re.search(r"QA accuracy [\d.]+ \(3 judged\)", " ".join(res.stdout.split()))
