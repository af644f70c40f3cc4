"""Helpers shared by the benchmark scripts: environment, percentiles, machine description."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from datetime import datetime, timezone

from memory.process import apply_process_defaults

apply_process_defaults()  # a benchmark owns its process: the same defaults as the CLI

__all__ = ["pct", "machine", "stamp"]


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation."""
    if not values:
        return float("nan")
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
