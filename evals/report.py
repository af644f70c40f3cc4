"""Terminal tables and plots for evaluation reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["plot_longmemeval", "plot_persona", "plot_recall", "print_longmemeval_report",
           "print_persona_report", "print_recall_report"]

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


# LD-Agent, Table 3 (detection accuracy %, ROUGE-L): the published points of comparison.
_LD_AGENT_PERSONA = {"LD-Agent zero-shot + CoT (paper)": (61.6, 25.54),
                     "LD-Agent tuned ChatGLM-6B (paper)": (77.8, 43.70)}


def print_persona_report(report: dict[str, Any], console: Console) -> None:
    table = Table(title=f"MSC persona extraction ({report['n_utterances']:,} utterances, "
                        f"{report['split']} episodes)")
    for col in ("system", "accuracy", "F1", "BLEU-2", "BLEU-3", "ROUGE-L"):
        table.add_column(col, justify="left" if col == "system" else "right")

    def row(name: str, res: dict[str, Any], bold: bool = False) -> None:
        d, e = res["detection"], res["extraction"]
        cells = [f"{100 * d['accuracy']:.1f}", f"{100 * d['f1']:.1f}", f"{100 * e['bleu2']:.1f}",
                 f"{100 * e['bleu3']:.1f}", f"{100 * e['rougeL']:.1f}"]
        table.add_row(f"[bold]{name}[/]" if bold else name,
                      *([f"[bold]{c}[/]" for c in cells] if bold else cells))

    row("Kindred rules (no LLM)", report, bold=True)
    row("naive rule (first-person, not a question)", report["baselines"]["naive_rule"])
    for name, (acc, rouge) in _LD_AGENT_PERSONA.items():
        table.add_row(name, f"{acc:.1f}", "", "", "", f"{rouge:.1f}")
    for session, res in report["by_session"].items():
        row(f"  session {session}", res)
    console.print(table)
    console.print(f"{report['utterances_per_s']:.0f} utterances/s (parse + rules + detector)")
    if "bank_coverage" in report:
        console.print(f"bank coverage after sessions 1-3: {100 * report['bank_coverage']:.1f}% of "
                      f"{report['bank']['facts']} persona facts ({report['bank']['episodes']} "
                      f"episodes; cosine ≥ {report['bank']['threshold']})")


def plot_persona(report: dict[str, Any], out: Path) -> None:
    """Detection accuracy and ROUGE-L per session, Kindred against the naive rule, with LD-Agent's
    published figures as reference lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sessions = list(report["by_session"])
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), dpi=120)
    for ax, (metric, key, pub) in zip(axes, (("detection accuracy (%)", ("detection", "accuracy"), 0),
                                             ("ROUGE-L", ("extraction", "rougeL"), 1)), strict=True):
        xs = range(len(sessions))
        ours = [100 * report["by_session"][s][key[0]][key[1]] for s in sessions]
        # the naive rule per session is not stored; its overall figure is drawn as a line
        ax.bar(xs, ours, color="tab:blue", label="Kindred rules")
        naive = 100 * report["baselines"]["naive_rule"][key[0]][key[1]]
        ax.axhline(naive, color="tab:gray", ls=":", label="naive rule (all sessions)")
        for (name, values), style in zip(_LD_AGENT_PERSONA.items(), ("--", "-."), strict=True):
            ax.axhline(values[pub], color="tab:red", ls=style, label=name.replace(" (paper)", ""))
        ax.set_xticks(list(xs), [f"session {s}" for s in sessions])
        ax.set_title(metric)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylim(50, 100)
    axes[1].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"MSC persona extraction, {report['split']} episodes")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def print_longmemeval_report(report: dict[str, Any], console: Console, ks: list[int]) -> None:
    """Kindred and the baselines, overall and by question type, at the paper's metrics."""
    metrics = [f"recall_all@{k}" for k in ks] + [f"ndcg@{k}" for k in ks] + \
        [f"turn_recall@{k}" for k in ks]
    table = Table(title=f"LongMemEval retrieval ({report['n_retrieval']} questions, "
                        "abstention left out; S: session recall_all, N: session NDCG, T: turn "
                        "recall)")
    table.add_column("type", no_wrap=True)
    table.add_column("system", no_wrap=True)
    for m in metrics:
        table.add_column(m.replace("recall_all", "S").replace("turn_recall", "T")
                         .replace("ndcg", "N"), justify="right", no_wrap=True)
    groups = [("all", report["overall"])] + list(report["by_type"].items())
    for group, systems in groups:
        for name, res in systems.items():
            bold = name == "kindred"
            cells = [_pct(res.get(m)) for m in metrics]
            short = (group.replace("single-session-", "ss-").replace("-reasoning", "")
                     .replace("knowledge-", "").replace("multi-session", "multi"))
            table.add_row(short if name == "kindred" else "", name,
                          *([f"[bold]{c}[/]" for c in cells] if bold else cells))
    console.print(table)
    k = max(ks)
    for part, figures in report.get("by_part", {}).items():
        cells = [f"{name} {_pct(res.get(f'recall_all@{k}'))} / {_pct(res.get(f'turn_recall@{k}'))}"
                 for name, res in figures["overall"].items()]
        console.print(f"{part} part ({figures['n_retrieval']} questions), S@{k} / T@{k}: "
                      + ", ".join(cells))
    ing = report["ingest"]
    console.print(f"ingest {ing['turns_per_s']} turns/s; the embedder alone "
                  f"{ing['embedder_turns_per_s']} turns/s on the same texts (ratio "
                  f"{ing['ratio_to_embedder']}, on {ing.get('floor_questions', '?')} "
                  f"questions); query p50 {report['query_ms_p50']} ms (each the first after "
                  "its replay: it loads the user's vectors); "
                  f"{report['seconds']:.0f} s in all")
    if "qa" in report:
        qa = report["qa"]
        console.print(f"QA accuracy {100 * qa['accuracy']:.1f} ({qa['judged']} judged); by type "
                      + ", ".join(f"{t}: {100 * v:.1f}" for t, v in qa["by_type"].items()
                                  if v == v))


def _pct(value: float | None) -> str:
    return f"{100 * value:.1f}" if value is not None and value == value else "-"


def plot_longmemeval(report: dict[str, Any], out: Path, ks: list[int]) -> None:
    """Bars by question type: session recall_all@k and turn recall@k (the largest k), per system."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    k = max(ks)
    groups = ["all", *report["by_type"]]
    data = {"all": report["overall"], **report["by_type"]}
    systems = list(report["overall"])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), dpi=110, sharey=True)
    for ax, metric in zip(axes, (f"recall_all@{min(ks)}", f"turn_recall@{k}"), strict=True):
        x = np.arange(len(groups))
        for n, name in enumerate(systems):
            values = [100 * data[g][name].get(metric, float("nan")) for g in groups]
            ax.bar(x + (n - 1) * 0.27, values, 0.27, label=name)
        ax.set_xticks(x, [g.replace("single-session-", "ss-") for g in groups], rotation=25,
                      ha="right", fontsize=8)
        ax.set_title(metric)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("%")
    axes[0].legend()
    fig.suptitle(f"LongMemEval retrieval ({report['n_retrieval']} questions)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
