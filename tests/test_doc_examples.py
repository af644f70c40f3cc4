"""Every Python example in the README and in the docstrings runs, as LangMem tests its docs.

A fenced ```python block is an example; it runs in a fresh process with its own HOME and working
directory (``~/.kindred`` lands in a temporary folder). Examples on the local model are slow. A
```python no-run block needs something outside it (a running server) and is shown, not run; its
demo is tested instead (``demos/openai_client.py``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def _examples() -> list:
    found = []
    sources = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for package in ("agent", "memory", "graphs", "personas", "evals"):
        sources += sorted((ROOT / package).rglob("*.py"))
    for path in sources:
        text = path.read_text()
        for match in _BLOCK.finditer(text):
            code = match.group(1)
            lines = code.splitlines()
            indent = min((len(line) - len(line.lstrip()) for line in lines if line.strip()),
                         default=0)
            code = "\n".join(line[indent:] for line in lines)
            line = text[:match.start()].count("\n") + 1
            marks = [pytest.mark.slow] if '"local"' in code else []
            found.append(pytest.param(code, id=f"{path.relative_to(ROOT)}:{line}", marks=marks))
    return found


EXAMPLES = _examples()


def test_the_docs_have_examples():
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("code", EXAMPLES)
def test_example_runs(code, tmp_path):
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
