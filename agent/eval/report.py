"""Terminal tables and plots for evaluation reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["print_recall_report", "plot_recall"]

_CATEGORIES = {"1": "multi-hop", "2": "temporal", "3": "open-domain", "4": "single-hop",
               "5": "adversarial"}


def print_recall_report(report: dict[str, Any], console: Console) -> None:
    ks = list(report["recall"])
    table = Table(title=f"LoCoMo evidence recall@k ({report['n_questions']} questions)")
    table.add_column("system")
    for k in ks:
        table.add_column(f"R@{k}", justify="right")
    table.add_row("[bold]Kindred[/]", *(f"[bold]{100 * report['recall'][k]:.1f}[/]" for k in ks))
    for name, res in report["baselines"].items():
        table.add_row(f"{name} alone", *(f"{100 * res['recall'][k]:.1f}" for k in ks))
    for cat, res in report["by_category"].items():
        table.add_row(f"  category {cat} ({_CATEGORIES.get(cat, '?')})",
                      *(f"{100 * res[k]:.1f}" for k in ks))
    console.print(table)
    lat = report["latency_ms"]
    console.print(f"ingest {lat['ingest_per_turn_p50']:.1f} ms/turn (p50); query p50 "
                  f"{lat['query_p50']:.1f} ms, p95 {lat['query_p95']:.1f} ms")


def plot_recall(report: dict[str, Any], out: Path) -> None:
    """Recall@k curves of Kindred and the baselines, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    ks = [int(k) for k in report["recall"]]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ax.plot(ks, [100 * v for v in report["recall"].values()], "o-", label="Kindred", lw=2)
    for name, res in report["baselines"].items():
        ax.plot(ks, [100 * v for v in res["recall"].values()], "s--", label=f"{name} alone")
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.set_xlabel("k (turns retrieved)")
    ax.set_ylabel("evidence recall@k (%)")
    ax.set_title(f"LoCoMo evidence recall ({report['n_questions']} questions)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
