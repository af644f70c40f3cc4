"""`kindred eval longmemeval`: the official schema (plain or .gz), the paper's metrics, baselines
in the same run, resumable, --qa end to end with the fake model and a fake judge."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from agent import Kindred
from evals.checkpoint import Checkpoint
from evals.longmemeval import evaluate_longmemeval, load_longmemeval, parse_date, session_metrics
from memory.errors import InvalidInputError

KINDRED = str(Path(sys.executable).parent / "kindred")


def _session(topic: str, answer: str | None = None) -> list[dict]:
    turns = [{"role": "user", "content": f"Can you help me plan {topic}?", "has_answer": False},
             {"role": "assistant", "content": f"Of course, here are ideas for {topic}.",
              "has_answer": False}]
    if answer:
        turns.append({"role": "user", "content": answer, "has_answer": True})
    return turns


def _dataset() -> list[dict]:
    fillers = ["a birthday party", "a garden makeover", "a budget spreadsheet"]
    items = []
    for n, (qtype, question, fact, answer) in enumerate([
            ("single-session-user", "What breed is my dog?",
             "By the way, my dog Biscuit is a beagle.", "A beagle"),
            ("knowledge-update", "Which city do I live in now?",
             "I just moved to Porto last week.", "Porto"),
            ("single-session-user", "What is the name of my tortoise?",
             None, "You never mentioned a tortoise")]):
        sessions = [_session(f) for f in fillers] + [_session("a trip", fact)]
        items.append({
            "question_id": f"q{n}" + ("_abs" if fact is None else ""), "question_type": qtype,
            "question": question, "answer": answer, "question_date": "2023/06/01 (Thu) 10:00",
            # the evidence session is listed first but dated last: the loader sorts by date
            "haystack_session_ids": ["ev", "s1", "s2", "s3"],
            "haystack_dates": ["2023/05/20 (Sat) 09:00", "2023/05/01 (Mon) 09:00",
                               "2023/05/05 (Fri) 09:00", "2023/05/05 (Fri) 09:00"],
            "haystack_sessions": [sessions[3], *sessions[:3]],
            "answer_session_ids": ["ev"] if fact else []})
    return items


@pytest.fixture
def data(tmp_path) -> Path:
    path = tmp_path / "lme.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump(_dataset(), handle)
    return path


def test_the_official_schema_loads_plain_or_gzipped_in_date_order(data, tmp_path):
    plain = tmp_path / "lme.json"
    plain.write_text(json.dumps(_dataset()))
    questions = load_longmemeval(data)
    assert questions == load_longmemeval(plain)
    assert [s[0] for s in questions[0].sessions] == ["s1", "s2", "s3", "ev"]
    assert questions[2].abstention and not questions[0].abstention
    assert parse_date("2023/05/28 (Sun) 19:47") == 1685303220.0


def test_session_metrics_are_the_papers():
    gold = frozenset({"a", "b"})
    m = session_metrics(["x", "a", "y", "b"], gold, 2)
    assert m == {"recall_any@2": 1.0, "recall_all@2": 0.0, "ndcg@2": pytest.approx(
        (1 / 1.584962500721156) / (1 + 1 / 1.584962500721156))}
    assert session_metrics(["a", "b"], gold, 5)["ndcg@5"] == pytest.approx(1.0)


def test_replay_retrieve_score_and_resume(data, tmp_path, embedder):
    questions = load_longmemeval(data)
    made = []

    def make_bot(d):
        made.append(d)
        return Kindred(data_dir=d, chat_model="fake", embedder=embedder)

    saved = Checkpoint(tmp_path / "run.jsonl", {"run": "test"})
    report = evaluate_longmemeval(questions, [1, 3], make_bot=make_bot, checkpoint=saved)
    assert report["n_questions"] == 3 and report["n_retrieval"] == 2
    for system in ("kindred", "bm25", "dense"):
        assert set(report["overall"][system]) >= {"recall_all@1", "ndcg@3", "turn_recall@3"}
    assert report["overall"]["kindred"]["turn_recall@3"] == 1.0
    assert report["by_type"]["knowledge-update"]["kindred"]["recall_any@3"] == 1.0
    ingest = report["ingest"]
    # the abstention question (8 turns) is not scored without answers, so not replayed
    assert ingest["turns"] == 9 + 9 and 0 < ingest["ratio_to_embedder"]
    assert len(made) == 2
    again = evaluate_longmemeval(questions, [1, 3], make_bot=make_bot,
                                 checkpoint=Checkpoint(tmp_path / "run.jsonl", {"run": "test"}))
    assert len(made) == 2  # every question came from the checkpoint
    assert again["overall"] == report["overall"]


def test_the_embedder_floor_is_timed_on_every_nth_question(data, embedder):
    questions = load_longmemeval(data)
    timed: list[int] = []

    class _Counting:  # the real embedder, counting the floor's cold re-encodes
        dim = embedder.dim

        def embed(self, texts):
            return embedder.embed(texts)

        def clear_cache(self):
            timed.append(1)
            embedder.clear_cache()

    def make_bot(d):
        return Kindred(data_dir=d, chat_model="fake", embedder=_Counting())

    report = evaluate_longmemeval(questions, [3], make_bot=make_bot, floor_every=2, qa=True)
    assert report["ingest"]["floor_questions"] == 2 == len(timed)  # the 1st and the 3rd
    assert report["ingest"]["turns"] == 9 + 9 + 8 and report["ingest"]["ratio_to_embedder"] > 0
    timed.clear()  # without answers the 3rd (an abstention question) is not replayed
    report = evaluate_longmemeval(questions, [3], make_bot=make_bot, floor_every=2)
    assert report["ingest"]["floor_questions"] == 1 == len(timed)
    assert report["ingest"]["turns"] == 9 + 9 and report["n_questions"] == 3
    with pytest.raises(InvalidInputError, match="floor_every"):
        evaluate_longmemeval(questions, [3], make_bot=make_bot, floor_every=0)


def test_qa_runs_end_to_end_with_the_fake_model_and_judge(data, embedder):
    questions = load_longmemeval(data)
    judge = FakeListChatModel(responses=["yes", "no", "yes"])
    report = evaluate_longmemeval(
        questions, [5], qa=True, judge=judge,
        make_bot=lambda d: Kindred(data_dir=d, chat_model="fake", embedder=embedder))
    qa = report["qa"]
    assert qa["judged"] == 3 and qa["accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert qa["abstention"] == 1.0 and all(a["response"] for a in qa["answers"])


def test_the_command_writes_a_report_and_a_plot(data, tmp_path):
    out, png = tmp_path / "lme.json", tmp_path / "lme.png"
    res = subprocess.run([KINDRED, "eval", "longmemeval", "--data", str(data), "--k", "1,3",
                          "--types", "knowledge-update,single-session-user", "--json", str(out),
                          "--plot", str(png)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    report = json.loads(out.read_text())
    assert report["n_retrieval"] == 2 and "provenance" in report
    assert png.stat().st_size > 10_000
    assert "LongMemEval retrieval" in res.stdout
    assert re.search(r"the embedder alone [\d.]+ turns/s .* on 2 questions\); query p50 [\d.]+ ms",
                     " ".join(res.stdout.split()))
    # the whole file's run reports each half too: q0 and q2 (abstention) are at even positions
    even, odd = report["by_part"]["even"], report["by_part"]["odd"]
    assert (even["n_retrieval"], odd["n_retrieval"]) == (1, 1)
    assert list(even["by_type"]) == ["single-session-user"] and \
        list(odd["by_type"]) == ["knowledge-update"]
    assert even["overall"] == report["by_type"]["single-session-user"]
    assert odd["overall"] == report["by_type"]["knowledge-update"]
    assert re.search(r"even part \(1 questions\), S@3 / T@3: kindred [\d.]+ / [\d.]+, bm25",
                     " ".join(res.stdout.split()))
    bad = subprocess.run([KINDRED, "eval", "longmemeval", "--data", str(data), "--types",
                          "gossip"], capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "unknown --types" in bad.stderr

