"""LD-Agent's ablation table in one command: the same run with each pipeline stage switched off.

LD-Agent reports its generation scores for the full agent and for the agent without event memory,
without persona memory and without topic-based retrieval. ``--ablation-table`` on ``kindred eval
msc-gen`` and ``kindred eval locomo-qa`` runs those rows back to back on the same data and model
(each row on fresh memories, as a single run is) and prints them as one table, with a plot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["ABLATIONS", "STAGE_OFF", "deep_merge", "plot_ablation", "print_ablation",
           "run_ablations"]

# the settings (nested, as Settings takes them) that switch one stage off
STAGE_OFF: dict[str, dict[str, Any]] = {
    "no-events": {"retrieval": {"use_events": False}},
    "no-persona": {"personas": {"enabled": False}},
    "no-feedback": {"feedback": {"enabled": False}},
    "no-topic": {"retrieval": {"scoring": {"use_topics": False}}},
}

# (slug, row label, settings that switch the stage off), in LD-Agent's order
ABLATIONS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("full", "Kindred (all stages)", {}),
    ("no-events", "w/o event memory", STAGE_OFF["no-events"]),
    ("no-persona", "w/o persona", STAGE_OFF["no-persona"]),
    ("no-topic", "w/o topic scoring", STAGE_OFF["no-topic"]),
)


def deep_merge(*trees: dict[str, Any]) -> dict[str, Any]:
    """Nested dicts merged left to right (a later leaf wins; nested groups are merged, not
    replaced), without changing the inputs."""
    out: dict[str, Any] = {}
    for tree in trees:
        for key, value in tree.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = deep_merge(out[key], value)
            else:
                out[key] = deep_merge(value) if isinstance(value, dict) else value
    return out


def run_ablations(run_one: Callable[[str, dict[str, Any]], dict[str, Any]]
                  ) -> dict[str, dict[str, Any]]:
    """``run_one(slug, overrides)`` for every row; the reports by slug, in table order."""
    return {slug: {"label": label, "settings": overrides, **run_one(slug, overrides)}
            for slug, label, overrides in ABLATIONS}


def print_ablation(rows: dict[str, dict[str, Any]], metrics: Sequence[tuple[str, str]],
                   title: str, console: Console) -> None:
    """One line per row, each metric in percent, with its change from the full agent."""
    table = Table(title=title)
    table.add_column("configuration")
    for _, name in metrics:
        table.add_column(name, justify="right")
    full = rows["full"]
    for slug, row in rows.items():
        cells = []
        for key, _ in metrics:
            value = 100 * row[key]
            delta = "" if slug == "full" else f" ({value - 100 * full[key]:+.2f})"
            cells.append(f"{value:.2f}{delta}")
        table.add_row(row["label"], *cells)
    console.print(table)


def plot_ablation(rows: dict[str, dict[str, Any]], metrics: Sequence[tuple[str, str]], title: str,
                  out: Path) -> None:
    """Grouped bars: one group per metric, one bar per configuration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.6 + 1.5 * len(metrics), 3.8), dpi=120)
    width = 0.8 / len(rows)
    for n, row in enumerate(rows.values()):
        xs = [m + (n - (len(rows) - 1) / 2) * width for m in range(len(metrics))]
        ax.bar(xs, [100 * row[key] for key, _ in metrics], width, label=row["label"])
    ax.set_xticks(list(range(len(metrics))), [name for _, name in metrics])
    ax.set_ylabel("%")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
