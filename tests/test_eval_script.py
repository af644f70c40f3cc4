"""Scripted evaluations: the format's errors, every expectation kind, exit codes, reports, compare."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fakes import RecordingChatModel

from evals.script import load_script, parse_gap
from evals.script_runner import run_script
from memory.errors import InvalidInputError

ROOT = Path(__file__).resolve().parents[1]
KINDRED = str(Path(sys.executable).parent / "kindred")


def _write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@pytest.mark.parametrize("body, line, hint", [
    ("""
     name: x
     steps:
       - say: {user: a, text: hi}
       - shout: {user: a, text: hi}
     """, 4, "shout"),
    ("""
     name: x
     steps:
       - say:
           user: a
           text: hi
           gap: "3 days"
     """, 6, "+3 days"),
    ("""
     name: x
     steps:
       - check:
           user: a
           expect:
             - persona_contains: x
               memory_contains: y
     """, 6, "exactly one kind"),
    ("""
     name: x
     steps:
       - check:
           user: a
           expect:
             - reply_contains: hello
     """, 4, "under a `say` step"),
    ("""
     name: x
     steps:
       - say:
           user: a
           text: hi
           expect:
             - reply_matches: "([a-z"
     """, 7, "regex"),
    ("""
     name: x
     steps: []
     """, 2, "at least 1"),
])
def test_validation_errors_name_the_line(tmp_path, body, line, hint):
    path = _write(tmp_path, body)
    with pytest.raises(InvalidInputError) as err:
        load_script(path)
    assert f"{path}:{line}:" in str(err.value) and hint in str(err.value)


def test_broken_yaml_and_missing_files_are_clear(tmp_path):
    with pytest.raises(InvalidInputError, match=r"s\.yaml:3: not valid YAML"):
        load_script(_write(tmp_path, "name: x\nsteps: [\n  - {a: 1\n"))
    with pytest.raises(InvalidInputError, match="Cannot read"):
        load_script(tmp_path / "missing.yaml")
    assert parse_gap("+3 days") == 3 * 86400 and parse_gap("+90 minutes") == 5400


def _run(make_bot, script, chat_model=None, judge=None, **overrides):
    return run_script(script, chat_model=chat_model, judge=judge,
                      make_bot=lambda d, m: make_bot(chat_model=m, data_dir=d, **overrides))


EVERY_KIND = """
name: every expectation kind
replies: ["Sure, Lisbon is lovely in May.", "Your cat is called Tofu."]
steps:
  - say:
      user: ann
      text: "I live in Lisbon and my cat is called Tofu."
      expect:
        - reply_contains: lisbon          # pass (case-insensitive)
        - reply_contains: Madrid          # fail
        - reply_matches: "(?i)lovely in \\\\w+"   # pass
        - reply_judge: "mentions Lisbon"  # pass with the judge, skipped without
  - check:
      user: ann
      expect:
        - persona_contains: Tofu          # pass
        - persona_not_contains: Tofu      # fail
        - memory_contains: Lisbon         # pass
        - memory_not_contains: Lisbon     # fail
  - end_session: {user: ann}
  - say:
      user: ann
      gap: "+2 days"
      text: "What is my cat called?"
      expect:
        - retrieved_contains: Tofu        # pass
        - retrieved_not_contains: Tofu    # fail
  - forget: {user: ann}
  - check:
      user: ann
      expect:
        - known_user: false               # pass
        - memory_not_contains: Lisbon     # pass
"""


def test_every_expectation_kind_passes_and_fails_as_it_should(make_bot, tmp_path):
    script = load_script(_write(tmp_path, EVERY_KIND))
    judge = RecordingChatModel(replies=["YES, it names Lisbon."])
    result = _run(make_bot, script, judge=judge)
    got = [(o["kind"], o["passed"]) for o in result["outcomes"]]
    assert got == [("reply_contains", True), ("reply_contains", False), ("reply_matches", True),
                   ("reply_judge", True), ("persona_contains", True),
                   ("persona_not_contains", False), ("memory_contains", True),
                   ("memory_not_contains", False), ("retrieved_contains", True),
                   ("retrieved_not_contains", False), ("known_user", True),
                   ("memory_not_contains", True)]
    assert "mentions Lisbon" in judge.calls[0][0].content
    assert result["outcomes"][0]["line"] == 4  # the say step's line in the file
    without_judge = _run(make_bot, script)
    assert without_judge["outcomes"][3]["passed"] is None and without_judge["skipped"] == 1


def test_teacher_forcing_stores_the_given_agent_turn(make_bot, tmp_path):
    script = load_script(_write(tmp_path, """
        name: forced
        steps:
          - say: {user: bo, text: "I play the cello.", agent: "The cello is a wonderful instrument."}
          - check:
              user: bo
              expect:
                - memory_contains: wonderful instrument
                - persona_contains: cello
        """))
    model = RecordingChatModel(replies=["never used"])
    # a recording model counts as capable: keep summaries and traits on the rules
    result = _run(make_bot, script, chat_model=model, persona_extractor="rules",
                  summariser="extractive")
    assert result["failed"] == 0 and result["passed"] == 2
    assert model.calls == []  # nothing was generated


def test_runs_with_the_fake_model_repeat_exactly(make_bot, tmp_path):
    script = load_script(_write(tmp_path, EVERY_KIND))
    assert _run(make_bot, script) == _run(make_bot, script)


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([KINDRED, "eval", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "COLUMNS": "160"}, timeout=600)


def test_the_example_scripts_pass_and_the_report_is_written(tmp_path):
    examples = sorted(str(p) for p in (ROOT / "demos" / "evals").glob("*.yaml"))
    assert len(examples) == 5
    run = _cli("script", *examples, "--report", str(tmp_path / "rep"))
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads((tmp_path / "rep" / "results.json").read_text())
    probes = next(r for r in results["scripts"] if r["name"] == "memory that shows in the replies")
    skipped = [o for o in probes["outcomes"] if o["passed"] is None]
    assert skipped and all(o["kind"].startswith("reply_") for o in skipped)  # canned replies
    assert all(o["passed"] for o in probes["outcomes"] if o["kind"] == "retrieved_contains")
    assert probes["reply_stats"]["replies"] == 26
    assert {r["name"] for r in results["scripts"]} >= {"a user who moves house",
                                                        "a correction that must stick"}
    assert all(len(r["sha256"]) == 64 for r in results["scripts"])
    assert results["environment"]["packages"]["langgraph"]
    report = (tmp_path / "rep" / "report.md").read_text()
    assert "expectations.png" in report and "sha256" in report
    assert (tmp_path / "rep" / "expectations.png").read_bytes()[:4] == b"\x89PNG"


def test_a_failing_expectation_gives_exit_code_1_and_compare_shows_it(tmp_path):
    script = _write(tmp_path, """
        name: persona ablation
        steps:
          - say: {user: cy, text: "I have two cats."}
          - check:
              user: cy
              expect:
                - persona_contains: two cats
        """)
    ok = _cli("script", str(script), "--report", str(tmp_path / "a"))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    ablated = _cli("script", str(script), "--no-persona", "--report", str(tmp_path / "b"))
    assert ablated.returncode == 1 and "FAIL" in ablated.stdout
    diff = _cli("compare", str(tmp_path / "a" / "results.json"),
                str(tmp_path / "b" / "results.json"))
    assert diff.returncode == 0 and "persona_contains: two cats" in diff.stdout
    bad = _write(tmp_path, "name: x\nsteps:\n  - jump: {}\n", "bad.yaml")
    invalid = _cli("script", str(bad))
    assert invalid.returncode == 2 and "bad.yaml:3" in invalid.stderr


def test_reply_stats_count_repeats_echoes_and_leaks():
    from evals.script_runner import reply_stats

    replies = [{"user": "ann", "session": "s1", "text": "I live in Paris.", "said": "I live in Paris."},
               {"user": "ann", "session": "s1", "text": "Lovely city! What brought you there?",
                "said": "I moved for work."},
               {"user": "ann", "session": "s1", "text": "Lovely city! What brought you there?",
                "said": "The food, mostly."},
               {"user": "ann", "session": "s2", "text": "Lovely city! What brought you there?"},
               {"user": "ann", "session": "s3", "text": "Hello there.", "said": "Hello there."},
               {"user": "ann", "session": "s2", "text": "Sure. Reply to ann's last message in at "
                "most 60 words.", "said": "Hi"}]
    assert reply_stats(replies, "Kindred") == {"replies": 6, "repeats": 1, "echoes": 1, "leaks": 1}
