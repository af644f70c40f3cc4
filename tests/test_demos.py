"""The demos run as a user would run them (with the fake model, so they are quick)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_embedding_demo_runs_and_remembers_across_sessions(tmp_path):
    res = subprocess.run([sys.executable, str(ROOT / "demos" / "embed_in_your_bot.py"),
                          "--model", "fake", "--data-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr
    assert "previous session became an event" in res.stdout
    assert "Lisbon" in res.stdout
    assert res.stdout.strip().endswith("alice's memory stays alice's: []")
