"""`kindred eval locomo`: loading (evidence quirks), replay through the chat path, recall, report."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from evals.locomo import evaluate_locomo, load_locomo, recall_at_k

ROOT = Path(__file__).resolve().parents[1]
LOCOMO = ROOT.parent / "shared" / "data" / "locomo" / "locomo10.json"
KINDRED = str(Path(sys.executable).parent / "kindred")


def _tiny(tmp_path: Path) -> Path:
    conv = {
        "speaker_a": "Ann", "speaker_b": "Ben",
        "session_1_date_time": "1:56 pm on 8 May, 2023",
        "session_1": [
            {"speaker": "Ann", "dia_id": "D1:1", "text": "I adopted a greyhound called Pixel."},
            {"speaker": "Ben", "dia_id": "D1:2", "text": "Lovely! Here is my garden.",
             "blip_caption": "a photo of tomato plants"},
            {"speaker": "Ann", "dia_id": "D1:3", "text": "Nice tomatoes."}],
        "session_2_date_time": "10:00 am on 20 June, 2023",
        "session_2": [
            {"speaker": "Ben", "dia_id": "D2:1", "text": "I ran my first marathon in Oslo."},
            {"speaker": "Ann", "dia_id": "D2:2", "text": "Congratulations on the race!"}],
        "session_3_date_time": "9:00 am on 1 July, 2023",  # a date key with no session
    }
    qa = [
        {"question": "What is the name of Ann's dog?", "answer": "Pixel", "evidence": ["D1:1"],
         "category": 4},
        {"question": "What does Ben grow?", "answer": "tomatoes", "evidence": ["D1:2; D1:3"],
         "category": 1},
        {"question": "Where did Ben run a marathon?", "answer": "Oslo", "evidence": ["D:2:01"],
         "category": 2},
        {"question": "Broken evidence only", "answer": "x", "evidence": ["D9:9"], "category": 3},
        {"question": "No evidence", "adversarial_answer": "x", "evidence": [], "category": 5},
    ]
    path = tmp_path / "tiny_locomo.json"
    path.write_text(json.dumps([{"sample_id": "conv-t", "conversation": conv, "qa": qa}]))
    return path


def test_loader_normalises_evidence_appends_captions_and_skips_unanswerable(tmp_path):
    [conv] = load_locomo(_tiny(tmp_path))
    assert [len(t) for _, _, t in conv.sessions] == [3, 2]
    assert conv.sessions[0][2][1]["text"].endswith("[shares photo: a photo of tomato plants]")
    assert [q.gold for q in conv.questions] == [frozenset({"D1:1"}), frozenset({"D1:2", "D1:3"}),
                                                frozenset({"D2:1"})]
    assert conv.sessions[1][1] - conv.sessions[0][1] == pytest.approx(
        (43 * 24 - 3 - 56 / 60) * 3600, abs=1)


def test_recall_is_the_share_of_gold_in_the_top_k():
    assert recall_at_k(["a", "b", "c"], frozenset({"b", "z"}), 2) == 0.5
    assert recall_at_k(["a", "b", "c"], frozenset({"c"}), 2) == 0.0


def test_evaluation_replays_through_kindred_and_reports_the_json_shape(tmp_path, make_bot):
    convs = load_locomo(_tiny(tmp_path))
    report = evaluate_locomo(convs, [1, 5], make_bot=lambda d: make_bot(data_dir=d))
    assert report["n_questions"] == 3
    assert report["recall"]["5"] == 1.0 and 0 < report["recall"]["1"] <= 1.0
    assert set(report["baselines"]) == {"bm25", "dense"}
    assert set(report["by_category"]) == {"1", "2", "4"}
    assert set(report["latency_ms"]) == {"ingest_per_turn_p50", "query_p50", "query_p95"}


def test_cli_prints_the_table_and_writes_json_and_plot(tmp_path):
    out, plot = tmp_path / "r.json", tmp_path / "r.png"
    res = subprocess.run([KINDRED, "eval", "locomo", "--data", str(_tiny(tmp_path)), "--k", "1,3",
                          "--json", str(out), "--plot", str(plot)], capture_output=True,
                         text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr
    assert "bm25 alone" in res.stdout and "dense alone" in res.stdout
    report = json.loads(out.read_text())
    assert report["n_questions"] == 3
    # provenance: which data (by hash), which command, which versions
    source = report["provenance"]
    assert source["data_sha256"] == hashlib.sha256(_tiny(tmp_path).read_bytes()).hexdigest()
    assert source["command"][:3] == ["kindred", "eval", "locomo"]
    assert source["environment"]["packages"]["kindred"] and source["environment"]["python"]
    from evals.script_report import code_fingerprint

    assert source["code_sha256"] == code_fingerprint()  # this checkout's code, as it is now
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = subprocess.run([KINDRED, "eval", "locomo", "--data", str(tmp_path / "nope.json")],
                         capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 2 and "No LoCoMo file" in bad.stderr


def test_qa_cli_resumes_from_its_checkpoint_and_refuses_other_options(tmp_path):
    data, saved, out = _tiny(tmp_path), tmp_path / "qa.jsonl", tmp_path / "qa.json"
    args = [KINDRED, "eval", "locomo-qa", "--data", str(data), "--model", "fake", "--checkpoint",
            str(saved), "--json", str(out)]
    first = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert first.returncode == 0, first.stderr
    report = json.loads(out.read_text())
    assert report["n_questions"] == 3 and len(saved.read_text().splitlines()) == 2
    assert report["provenance"]["command"][:3] == ["kindred", "eval", "locomo-qa"]
    out.unlink()
    again = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr
    resumed = json.loads(out.read_text())
    assert resumed["answers"] == report["answers"] and resumed["seconds"] == report["seconds"]
    other = subprocess.run([*args, "--questions", "1"], capture_output=True, text=True,
                           timeout=300, check=False)
    assert other.returncode == 2 and "another configuration" in other.stderr


@pytest.mark.skipif(not LOCOMO.is_file(), reason="needs ../shared/data/locomo (CI has it)")
def test_real_locomo_conversation_beats_both_baselines(make_bot):
    conv = load_locomo(LOCOMO)[:1]
    report = evaluate_locomo(conv, [5, 10], make_bot=lambda d: make_bot(data_dir=d))
    assert report["n_questions"] == len(conv[0].questions) > 100
    for k in ("5", "10"):
        assert report["recall"][k] > report["baselines"]["bm25"]["recall"][k] + 0.1
        assert report["recall"][k] > report["baselines"]["dense"]["recall"][k] + 0.1


def test_the_code_fingerprint_changes_with_any_source_edit(tmp_path):
    """Copies of the packages: the same files give the same fingerprint, one changed byte another."""
    import shutil

    from evals import script_report

    root = Path(script_report.__file__).resolve().parents[1]
    for package in script_report.CODE_PACKAGES:
        shutil.copytree(root / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    copy = tmp_path / "evals" / "script_report.py"
    fingerprint = _fingerprint_of(copy)
    assert fingerprint == script_report.code_fingerprint()
    card = next((tmp_path / "personas" / "cards").glob("*.yaml"))
    card.write_text(card.read_text() + "\n# edited\n")
    assert _fingerprint_of(copy) != fingerprint


def _fingerprint_of(module_file: Path) -> str:
    """``code_fingerprint`` of the copy at ``module_file`` (run in a child: its own imports)."""
    code = ("import importlib.util, sys; spec = importlib.util.spec_from_file_location('sr', "
            f"{str(module_file)!r}); m = importlib.util.module_from_spec(spec); "
            "spec.loader.exec_module(m); print(m.code_fingerprint())")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=120).stdout.strip()
