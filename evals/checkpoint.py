"""Resumable dataset runs: finished units of work saved as JSON lines, skipped when a run restarts.

A full MSC generation run with the local model takes hours on two cores, a LoCoMo QA run more than
one: a run that is stopped (a laptop lid, a CI time limit) should not start again from nothing. A
*unit* is what a runner does with one fresh memory (a LoCoMo conversation, an MSC episode's session);
when it finishes, its result rows and its seconds are appended as one line and flushed to disk, so
a crash loses at most the unit in progress. The first line holds the run's configuration: resuming
with another model, other settings, other data or other code (the CLI puts a fingerprint of
Kindred's source in it) is refused, since mixing them would report figures that no single
configuration produced.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from memory.errors import InvalidInputError

__all__ = ["Checkpoint"]


class Checkpoint:
    """Finished units of one run in a JSON-lines file (``None`` path: keep nothing, resume nothing)."""

    def __init__(self, path: str | Path | None, config: dict[str, Any]) -> None:
        self.path = Path(path).expanduser() if path is not None else None
        self._config = json.loads(json.dumps(config))  # what JSON gives back, for comparison
        self._units: dict[str, dict[str, Any]] = {}
        if self.path is not None and self.path.is_file() and self.path.stat().st_size:
            self._load()
        elif self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._write_line({"config": self._config})

    def _load(self) -> None:
        lines = self.path.read_text(encoding="utf-8").splitlines()
        try:
            header = json.loads(lines[0])
        except (json.JSONDecodeError, IndexError) as exc:
            raise InvalidInputError(f"{self.path} is not a Kindred checkpoint (first line is not "
                                    "JSON): pass a new --checkpoint file.") from exc
        saved = header.get("config") if isinstance(header, dict) else None
        if saved != self._config:
            differ = (sorted(k for k in {*saved, *self._config} if saved.get(k) != self._config.get(k))
                      if isinstance(saved, dict) else ["everything"])
            hint = (" Kindred's code changed since the run started: finish it with the code it "
                    "started with (a git worktree at that commit), or" if differ == ["code"]
                    else " Resume with the same options, model and KINDRED_* variables, or")
            raise InvalidInputError(
                f"{self.path} was written by a run with another configuration (it differs in: "
                f"{', '.join(differ)}; saved: {saved!r}).{hint} pass a new --checkpoint file.")
        for number, line in enumerate(lines[1:], start=2):
            try:
                entry = json.loads(line)
                self._units[str(entry["unit"])] = {"rows": list(entry["rows"]),
                                                   "seconds": float(entry["seconds"])}
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                if number == len(lines):  # killed while writing this line: drop it, redo the unit
                    self.path.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
                    break
                raise InvalidInputError(f"{self.path}:{number} is not a finished unit: the file "
                                        "was edited or corrupted; pass a new --checkpoint file."
                                        ) from None

    def _write_line(self, data: dict[str, Any]) -> None:
        if self.path is None:  # an in-memory checkpoint keeps nothing
            return
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(data) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def done(self, unit: str) -> bool:
        return unit in self._units

    def rows(self, unit: str) -> list[dict[str, Any]]:
        return self._units[unit]["rows"]

    def seconds(self) -> float:
        """Time spent on the units already saved (so a resumed run reports its whole cost)."""
        return sum(u["seconds"] for u in self._units.values())

    def rows_of(self, unit: str, compute: Callable[[], list[dict[str, Any]]],
                progress: Callable[[int], Any] | None = None) -> list[dict[str, Any]]:
        """The unit's rows: saved ones (advancing ``progress`` past them), else ``compute()``'s,
        timed and saved before they are returned."""
        if not self.done(unit):
            started = time.perf_counter()
            rows = compute()
            self.save(unit, rows, time.perf_counter() - started)
        elif progress:
            progress(len(self.rows(unit)))
        return self.rows(unit)

    def save(self, unit: str, rows: list[dict[str, Any]], seconds: float) -> None:
        self._units[unit] = {"rows": rows, "seconds": seconds}
        if self.path is not None:
            self._write_line({"unit": unit, "rows": rows, "seconds": seconds})
