"""The terminal chat, driven the way a person uses it: the real program in a pseudo-terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

KINDRED = str(Path(sys.executable).parent / "kindred")
PROMPT = "alice ›"


def _spawn(data_dir: Path, *extra: str) -> pexpect.spawn:
    env = {**os.environ, "COLUMNS": "120", "TERM": "dumb", "NO_COLOR": "1"}
    child = pexpect.spawn(KINDRED, ["chat", "--user", "alice", "--model", "fake",
                                    "--data-dir", str(data_dir), *extra],
                          env=env, encoding="utf-8", timeout=120, dimensions=(50, 120))
    child.expect("Type /help")
    child.expect_exact(PROMPT)
    return child


def _say(child: pexpect.spawn, line: str) -> str:
    child.sendline(line)
    child.expect_exact(PROMPT)
    return child.before


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "kindred-data"


def test_chat_session_with_slash_commands(data_dir):
    child = _spawn(data_dir)
    out = _say(child, "My dog is called Biscuit.")
    assert "Thanks for telling me, I will remember that." in out
    assert "My dog is called Biscuit." in _say(child, "/persona")
    why = _say(child, "/why")
    assert "session s0001" in why and "Prompt sent to the model" in why
    assert "Noted." in _say(child, "/feedback I meant my beagle.")
    assert "Session ended and remembered" in _say(child, "/end")
    memory = _say(child, "/memory")
    assert "Biscuit" in memory and "s0001" in memory and "1 correction" in memory
    assert "/feedback TEXT" in _say(child, "/help")
    assert "Unknown command" in _say(child, "/dance")
    child.sendline("/quit")
    child.expect("Your memory is kept")
    child.expect(pexpect.EOF)

    # a new process remembers the user
    child = _spawn(data_dir)
    assert "Biscuit" in _say(child, "/memory")
    child.sendline("/forget")
    child.expect("to forget everything")
    child.sendline("yes")
    child.expect_exact(PROMPT)
    assert "forgotten everything" in child.before
    assert "don't remember anything" in _say(child, "/memory")
    child.sendeof()
    child.expect(pexpect.EOF)


def test_chat_reports_errors_and_keeps_going(data_dir):
    child = _spawn(data_dir)
    error = " ".join(_say(child, "/feedback wrong!").split())
    assert "error:" in error and "chat first" in error
    assert "Thanks for telling me" in _say(child, "Hello there.")
    child.sendline("/quit")
    child.expect(pexpect.EOF)


def test_bad_options_fail_with_a_clear_message(data_dir):
    res = subprocess.run([KINDRED, "chat", "--user", "bad/name", "--model", "fake",
                          "--data-dir", str(data_dir)], capture_output=True, text=True,
                         timeout=120, stdin=subprocess.DEVNULL)
    assert res.returncode == 2 and "Invalid user_id" in res.stderr
    res = subprocess.run([KINDRED, "chat", "--model", "nope", "--data-dir", str(data_dir)],
                         capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert res.returncode == 2 and "Unknown chat model" in res.stderr


def test_graph_and_memory_commands(data_dir):
    res = subprocess.run([KINDRED, "graph"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "perceive" in res.stdout and "write_back" in res.stdout
    child = _spawn(data_dir)
    _say(child, "I live in Lisbon.")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    res = subprocess.run([KINDRED, "memory", "show", "--user", "alice", "--data-dir",
                          str(data_dir)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "COLUMNS": "150"})
    assert res.returncode == 0 and "I live in Lisbon." in res.stdout
    res = subprocess.run([KINDRED, "memory", "forget", "--user", "alice", "--yes", "--data-dir",
                          str(data_dir)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "Forgot alice." in res.stdout


def test_persona_ids_shown_are_ids_the_chat_takes_to_edit_and_delete(data_dir):
    child = _spawn(data_dir)
    _say(child, "I live in Lisbon.")
    _say(child, "My sister is called Anna.")
    table = _say(child, "/persona")
    ids = [w for w in table.split() if w.startswith("tr-")]
    assert len(ids) == 2 and all(len(i) == 11 for i in ids)  # short ids…
    fixed = " ".join(_say(child, f"/persona edit {ids[1]} My sister is called Ana.").split())
    assert "Corrected: My sister is called Ana." in fixed  # …that the commands take
    assert "Deleted" in _say(child, f"/persona delete {ids[0]}")
    after = _say(child, "/persona")
    assert "Ana." in after and "Lisbon" not in after
    assert "No trait" in " ".join(_say(child, "/persona delete tr-00000000").split())
    assert "Usage" in _say(child, "/persona edit")
    child.sendline("/quit")
    child.expect(pexpect.EOF)


def test_why_reaches_earlier_turns_and_speaks_good_english(data_dir):
    child = _spawn(data_dir)
    _say(child, "My dog is called Biscuit.")
    _say(child, "He is a beagle.")
    older = _say(child, "/why 2")
    assert "session s0001" in older and "Prompt sent to the model" in older
    assert "My dog is called Biscuit." in older.split("Prompt sent")[1]
    assert "I keep the last 2 replies" in " ".join(_say(child, "/why 3").split())
    assert "Usage" in _say(child, "/why x")
    child.sendline("/quit")
    child.expect(pexpect.EOF)


def test_memory_show_never_creates_a_data_dir_and_names_known_users(data_dir, tmp_path):
    missing = tmp_path / "nowhere"
    res = subprocess.run([KINDRED, "memory", "show", "--user", "alice", "--data-dir",
                          str(missing)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and "no Kindred memory at" in res.stderr and not missing.exists()
    child = _spawn(data_dir)
    _say(child, "I live in Lisbon.")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    res = subprocess.run([KINDRED, "memory", "show", "--user", "alcie", "--data-dir",
                          str(data_dir)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and "no memory of user 'alcie'" in res.stderr
    assert "Known users: alice." in res.stderr
    no = subprocess.run([KINDRED, "memory", "forget", "--user", "alice", "--data-dir",
                         str(data_dir)], input="n\n", capture_output=True, text=True, timeout=120)
    assert no.returncode == 0 and "Nothing was removed." in no.stdout
    res = subprocess.run([KINDRED, "memory", "show", "--user", "alice", "--data-dir",
                          str(data_dir)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "COLUMNS": "150"})
    assert res.returncode == 0 and "I live in Lisbon." in res.stdout  # still there


def test_feedback_in_the_terminal_never_turns_an_instruction_into_a_trait(data_dir):
    """The bug a user met: '/feedback Don't repeat yourself; … in my city.' replaced 'I live in
    Lisbon' in the persona."""
    child = _spawn(data_dir)
    _say(child, "I live in Lisbon, near the river.")
    _say(child, "What should I do this weekend?")
    noted = " ".join(_say(child, "/feedback Don't repeat yourself; suggest something concrete "
                                 "to do in my city.").split())
    assert "Noted." in noted and "Also noted about you" not in noted
    assert "in my city.”" in noted and "city.”." not in noted  # one full stop, not two
    persona = _say(child, "/persona")
    assert "Lisbon" in persona and "current" in persona and "until" not in persona
    assert "repeat" not in persona and "concrete" not in persona
    child.sendline("/quit")
    child.expect(pexpect.EOF)
