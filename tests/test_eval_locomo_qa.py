"""LoCoMo QA: the paper's F1, and answering from memory without writing the questions into it."""

from __future__ import annotations

import re

import time

import pytest
from conftest import DAY, T0
from fakes import RecordingChatModel

from evals.locomo import LocomoConversation, LocomoQuestion
from evals.locomo_qa import answer_f1, evaluate_locomo_qa, token_f1


@pytest.mark.parametrize("prediction, truth, category, expected", [
    ("7 May 2023", "7 May 2023", 2, 1.0),
    ("On the 7th of May", "7 May 2023", 2, pytest.approx(2 / 7)),  # only "may" is shared
    ("The adoption agencies.", "adoption agencies", 4, 1.0),      # articles, punctuation
    ("running", "runs", 4, 1.0),                                  # Porter stems
    ("adoption agencies, painting", "Adoption agencies", 1, 1.0),  # best part per gold part
    ("painting", "Adoption agencies, painting", 1, 0.5),
    ("psychology", "Psychology; counseling", 3, 1.0),               # part before ";"
    ("It is not mentioned in the conversation.", "", 5, 1.0),
    ("Paris", "", 5, 0.0),
    ("", "Paris", 4, 0.0),
])
def test_locomo_f1(prediction, truth, category, expected):
    assert answer_f1(prediction, truth, category) == expected


def test_memory_lines_say_who_and_when():
    from graphs.compose import memory_lines
    from memory.types import RetrievedMemory

    turn = RetrievedMemory(kind="turn", id="t", text="I moved to Oslo.", age="3 days 2 hours ago",
                           ts=1683504000.0, speaker="Ann")  # 2023-05-08 00:00 UTC, a Monday
    event = RetrievedMemory(kind="event", id="e", text="Ann talked about moving.",
                            age="3 days ago", ts=1683504000.0)
    assert memory_lines([turn, event]) == ['- 3 days 2 hours ago, Ann said: "I moved to Oslo."',
                                           '- 3 days ago: "Ann talked about moving."']
    assert memory_lines([turn], dated=True) == ['- On Monday 8 May 2023, Ann said: "I moved to Oslo."']
    assert memory_lines([turn.model_copy(update={"speaker": None})]) == [
        '- 3 days 2 hours ago, it was said: "I moved to Oslo."']


def test_token_f1_is_symmetric_in_overlap():
    assert token_f1("red car", "red bike") == pytest.approx(0.5)


def _conversation() -> LocomoConversation:
    turns1 = [{"dia_id": "D1:1", "speaker": "Ann", "text": "I adopted a beagle called Rex."},
              {"dia_id": "D1:2", "speaker": "Ben", "text": "Lovely! I am training for a marathon."}]
    turns2 = [{"dia_id": "D2:1", "speaker": "Ann", "text": "Rex chewed my new shoes today."},
              {"dia_id": "D2:2", "speaker": "Ben", "text": "The marathon is in Boston in April."}]
    conv = LocomoConversation("conv-test", "Ann", "Ben", [(1, T0, turns1), (2, T0 + 7 * DAY, turns2)])
    conv.questions = [LocomoQuestion("What is the name of Ann's dog?", frozenset({"D1:1"}), 4, "Rex"),
                      LocomoQuestion("Where is Ben's marathon?", frozenset({"D2:2"}), 4, "Boston"),
                      LocomoQuestion("What is Ann's favourite film?", frozenset({"D1:1"}), 5, "")]
    return conv


def test_answers_come_from_recalled_memory_and_leave_memory_unchanged(make_bot):
    prompts_seen = []

    def respond(messages):
        prompt = messages[-1].content
        prompts_seen.append(prompt)
        # earlier questions and answers were never stored: only the four replayed turns
        assert bots[-1].memory.turns.count("locomo0") == 4
        if "dog" in prompt.split("Question:")[1]:
            return "Rex"
        return "Boston" if "marathon" in prompt.split("Question:")[1] else "Not mentioned"

    model = RecordingChatModel(respond=respond)
    bots = []

    def build(data_dir):
        bots.append(make_bot(chat_model=model, data_dir=data_dir, persona_extractor="rules",
                             summariser="extractive"))
        return bots[-1]

    report = evaluate_locomo_qa([_conversation()], make_bot=build)
    assert report["n_questions"] == 3 and report["f1"] == 1.0
    assert report["by_category"] == {"4": 1.0, "5": 1.0}
    assert "beagle called Rex" in prompts_seen[0]          # the retriever found the evidence
    # who said it, and on which date (LoCoMo asks "when"), not "N days ago" from an unstated now
    day = time.gmtime(T0)
    assert (f"On {time.strftime('%A', day)} {day.tm_mday} {time.strftime('%B %Y', day)}, "
            'Ann said: "I adopted a beagle called Rex."') in prompts_seen[0]
    assert "Boston in April" in prompts_seen[1]
    assert [a["answer"] for a in report["answers"]] == ["Rex", "Boston", "Not mentioned"]


def test_a_judge_grades_answers(make_bot):
    model = RecordingChatModel(replies=["Rex"])
    judge = RecordingChatModel(replies=["CORRECT"])
    report = evaluate_locomo_qa(
        [_conversation()], max_questions=1, judge=judge,
        make_bot=lambda d: make_bot(chat_model=model, data_dir=d, persona_extractor="rules",
                                    summariser="extractive"))
    assert report["judge_accuracy"] == 1.0 and "Gold answer: Rex" in judge.calls[0][0].content


# ---------------------------------------------------------------- MSC generation (same harness)
MSC = __import__("pathlib").Path(__file__).resolve().parents[2] / "shared" / "data" / "msc"


@pytest.mark.skipif(not MSC.exists(), reason=f"MSC data not found at {MSC}")
def test_msc_generation_teacher_forces_and_scores(make_bot, tmp_path):
    from evals.checkpoint import Checkpoint
    from evals.msc import load_sessions
    from evals.msc_generation import distinct_n, evaluate_msc_generation

    episodes = load_sessions(MSC)[:1]
    number, dialog = episodes[0]
    assert number % 2 == 1 and len(dialog) == 4
    seen = []

    def respond(messages):
        seen.append(messages)
        return dialog[1][1]  # the gold reply of the first generated turn, every time

    model = RecordingChatModel(respond=respond)
    run = dict(sessions=[2], max_replies=2,
               make_bot=lambda d: make_bot(chat_model=model, data_dir=d, persona_extractor="rules",
                                           summariser="extractive"))
    report = evaluate_msc_generation(episodes, **run,
                                     checkpoint=Checkpoint(tmp_path / "gen.jsonl", {"k": 2}))
    assert report["n_replies"] == 2
    resumed = evaluate_msc_generation(episodes, **run,
                                      checkpoint=Checkpoint(tmp_path / "gen.jsonl", {"k": 2}))
    # the second draft is the gold reply already said in this session: a verbatim repeat, so the
    # review regenerates it once (three calls); a resumed run generates nothing again
    assert len(seen) == 3 and resumed["replies"] == report["replies"]
    first, second = report["replies"]
    assert first["rougeL"] == pytest.approx(1.0) and second["rougeL"] < 1.0
    # the second prompt holds the gold history of session 2 (teacher forcing), not the generation
    contents = [m.content for m in seen[1]]
    assert dialog[1][0].strip() in contents and dialog[1][2].strip() in contents[-1]
    # the message being answered is in the prompt once (not also as the context's last line)
    assert sum(dialog[1][2].strip() in c for c in contents) == 1
    assert report["dist1"] == distinct_n([first["generated"], second["generated"]], 1)


def test_distinct_n():
    from evals.msc_generation import distinct_n

    assert distinct_n(["a b a b"], 1) == 0.5 and distinct_n(["a b a b"], 2) == pytest.approx(2 / 3)


# ---------------------------------------------------------------- resumable runs
def test_a_stopped_run_resumes_from_its_checkpoint_without_redoing_finished_units(make_bot, tmp_path):
    from evals.checkpoint import Checkpoint

    path = tmp_path / "qa.jsonl"
    second = _conversation()
    second.sample_id = "conv-two"
    config = {"run": "locomo-qa", "model": "fake"}
    built = []

    def build(data_dir):
        built.append(data_dir)
        return make_bot(chat_model=RecordingChatModel(replies=["Rex", "Boston", "Not mentioned"]),
                        data_dir=data_dir, persona_extractor="rules", summariser="extractive")

    full = evaluate_locomo_qa([_conversation(), second], make_bot=build,
                              checkpoint=Checkpoint(path, config))
    assert len(built) == 2 and full["n_questions"] == 6
    lines = path.read_text().splitlines()
    assert len(lines) == 3  # the configuration, then one line per finished conversation

    # everything saved: a rerun builds no memory at all and reports the same figures and cost
    again = evaluate_locomo_qa([_conversation(), second], make_bot=build,
                               checkpoint=Checkpoint(path, config))
    assert len(built) == 2
    assert again["answers"] == full["answers"] and again["seconds"] == full["seconds"]

    # killed while writing the second unit: that unit alone is redone, the file is repaired
    path.write_text("\n".join(lines[:2]) + "\n" + lines[2][: len(lines[2]) // 2])
    resumed = evaluate_locomo_qa([_conversation(), second], make_bot=build,
                                 checkpoint=Checkpoint(path, config))
    assert len(built) == 3 and [a["answer"] for a in resumed["answers"]] == \
        [a["answer"] for a in full["answers"]]
    assert len(path.read_text().splitlines()) == 3


def test_a_checkpoint_refuses_another_configuration_and_a_corrupted_file(tmp_path):
    from evals.checkpoint import Checkpoint
    from agent.errors import InvalidInputError

    path = tmp_path / "run.jsonl"
    saved = Checkpoint(path, {"model": "local", "sessions": [2, 3]})
    saved.save("1:2", [{"x": 1}], 2.5)
    saved.save("1:3", [{"x": 2}], 1.5)
    reopened = Checkpoint(path, {"model": "local", "sessions": [2, 3]})
    assert reopened.done("1:2") and reopened.rows("1:3") == [{"x": 2}] and reopened.seconds() == 4.0
    with pytest.raises(InvalidInputError, match="another configuration"):
        Checkpoint(path, {"model": "fake", "sessions": [2, 3]})
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "{not json", lines[2]]) + "\n")
    with pytest.raises(InvalidInputError, match="run.jsonl:2"):
        Checkpoint(path, {"model": "local", "sessions": [2, 3]})
    (tmp_path / "other.txt").write_text("hello\n")
    with pytest.raises(InvalidInputError, match="not a Kindred checkpoint"):
        Checkpoint(tmp_path / "other.txt", {})
    assert not Checkpoint(None, {}).done("1:2")  # no path: nothing kept, nothing resumed


# ---------------------------------------------------------------- LD-Agent's ablation table
@pytest.mark.skipif(not MSC.exists(), reason=f"MSC data not found at {MSC}")
def test_ablation_rows_switch_their_stage_off_in_the_prompt(make_bot):
    """Each row of the table really runs without its stage: what reaches the model differs."""
    from evals.ablation import ABLATIONS, run_ablations
    from evals.msc import load_sessions
    from evals.msc_generation import evaluate_msc_generation

    episodes = load_sessions(MSC)[:1]
    prompts_by_row: dict[str, list[str]] = {}

    def run_one(slug, overrides):
        seen = prompts_by_row.setdefault(slug, [])

        def respond(messages):
            seen.append("\n".join(str(m.content) for m in messages))
            return "I see."

        model = RecordingChatModel(respond=respond)
        return evaluate_msc_generation(
            episodes, sessions=[3], max_replies=2,
            make_bot=lambda d: make_bot(chat_model=model, data_dir=d, persona_extractor="rules",
                                        summariser="extractive", **overrides))

    rows = run_ablations(run_one)
    assert list(rows) == [slug for slug, _, _ in ABLATIONS]
    assert rows["no-persona"]["label"] == "w/o persona" and rows["no-persona"]["n_replies"] == 2
    # sessions 1-2 were replayed: the full agent shows the user's traits and recalled memories
    full = prompts_by_row["full"]
    about = re.compile(r"About msc\d+:")
    assert all(about.search(p) for p in full)
    assert any("Past conversations:" in p for p in full)
    assert not any(about.search(p) for p in prompts_by_row["no-persona"])
    assert not any("Past conversations:" in p for p in prompts_by_row["no-events"])
    assert all(about.search(p) for p in prompts_by_row["no-events"])


def test_ablation_table_cli_prints_every_row_with_per_row_checkpoints(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    KINDRED = str(Path(sys.executable).parent / "kindred")
    if not MSC.exists():
        pytest.skip(f"MSC data not found at {MSC}")
    saved, out, plot = tmp_path / "ck.jsonl", tmp_path / "abl.json", tmp_path / "abl.png"
    args = [KINDRED, "eval", "msc-gen", "--data", str(MSC), "--model", "fake", "--episodes", "1",
            "--sessions", "2", "--replies", "1", "--ablation-table", "--checkpoint", str(saved),
            "--json", str(out), "--plot", str(plot)]
    res = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)
    assert res.returncode == 0, res.stderr
    for label in ("Kindred (all stages)", "w/o event memory", "w/o persona", "w/o topic scoring"):
        assert label.split()[0] in res.stdout
    report = json.loads(out.read_text())
    assert list(report["ablation"]) == ["full", "no-events", "no-persona", "no-topic"]
    assert report["ablation"]["no-events"]["settings"] == {"retrieval": {"use_events": False}}
    assert all(row["n_replies"] == 1 for row in report["ablation"].values())
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.glob("ck.*.jsonl")) == [
        "ck.full.jsonl", "ck.no-events.jsonl", "ck.no-persona.jsonl", "ck.no-topic.jsonl"]
    mixed = subprocess.run([*args, "--no-events"], capture_output=True, text=True, timeout=300,
                           check=False)
    assert mixed.returncode == 2 and "drop the --no-* flags" in mixed.stderr


def test_a_checkpoint_is_not_resumed_under_other_kindred_variables_or_code(tmp_path):
    """KINDRED_* variables and Kindred's code change what a run computes: the checkpoint header
    holds them (the report too), so a resume under others is refused instead of mixing runs."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    if not MSC.exists():
        pytest.skip(f"MSC data not found at {MSC}")
    kindred = str(Path(sys.executable).parent / "kindred")
    saved, out = tmp_path / "ck.jsonl", tmp_path / "run.json"
    args = [kindred, "eval", "msc-gen", "--data", str(MSC), "--model", "fake", "--episodes", "1",
            "--sessions", "2", "--replies", "1", "--checkpoint", str(saved), "--json", str(out)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINDRED_")}
    changed = {**env, "KINDRED_RETRIEVAL__TURNS_K": "2"}
    first = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False,
                           env=changed)
    assert first.returncode == 0, first.stderr
    assert json.loads(saved.read_text().splitlines()[0])["config"]["settings"] == {
        "retrieval": {"turns_k": 2}}
    assert json.loads(out.read_text())["settings"] == {"retrieval": {"turns_k": 2}}
    again = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False,
                           env=changed)
    assert again.returncode == 0, again.stderr  # same variables: resumed
    other = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False, env=env)
    assert other.returncode == 2
    assert "another configuration (it differs in: settings;" in " ".join(other.stderr.split())
    # a checkpoint written by other code (here: its fingerprint as another version would write it)
    lines = saved.read_text().splitlines()
    header = json.loads(lines[0])
    assert len(header["config"]["code"]) == 64
    header["config"]["code"] = "0" * 64
    saved.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    older = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False,
                           env=changed)
    assert older.returncode == 2
    message = " ".join(older.stderr.split())
    assert "it differs in: code;" in message and "code changed since the run started" in message
    assert saved.read_text().splitlines()[1:] == lines[1:]  # the finished units are kept
