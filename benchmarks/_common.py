"""Helpers shared by the benchmark scripts: environment, percentiles, machine description, LoCoMo's
text."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from memory.process import apply_process_defaults

apply_process_defaults()  # a benchmark owns its process: the same defaults as the CLI

__all__ = ["LOCOMO", "locomo_text", "pct", "machine", "stamp"]

#: LoCoMo's file in the shared data beside the checkout
LOCOMO = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo" / "locomo10.json"


def locomo_text(convs) -> tuple[list[tuple[str, str]], list[str]]:
    """LoCoMo's turns (``evals.locomo.load_locomo``'s conversations) as (speaker, text), in
    order, and its questions: real text to fill and query a memory with."""
    return ([(t["speaker"], t["text"]) for c in convs for _, _, ts in c.sessions for t in ts],
            [q.question for c in convs for q in c.questions])


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation."""
    if not values:
        return float("nan")
    if len(values) == 1:  # statistics.quantiles needs two (a node that ran once)
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if q < 100 \
        else max(values)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        model = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                               capture_output=True, text=True, check=False).stdout.strip()
        cpu = model or cpu
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
