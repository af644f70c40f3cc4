"""Reports of scripted evaluations: JSON results, a Markdown report with a plot, a terminal table,
and the comparison of two runs.

Every report states what makes a run reproducible: package versions, the settings that differ from
the defaults, the model, the seed and the SHA-256 of each script file.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ["CODE_PACKAGES", "code_fingerprint", "compare_runs", "data_hash", "environment", "file_hash",
           "print_compare", "print_summary", "provenance", "write_report"]

_PACKAGES = ("kindred", "langgraph", "langchain-core", "chromadb", "sentence-transformers",
             "transformers", "torch", "spacy", "onnxruntime", "llama-cpp-python")


def file_hash(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def data_hash(path: str | Path) -> str:
    """SHA-256 of a data file, or of a folder (every file's relative path and content, sorted), so
    a report says exactly which copy of a dataset produced it."""
    path = Path(path)
    if path.is_file():
        return file_hash(path)
    digest = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(item.relative_to(path).as_posix().encode() + b"\0")
        digest.update(bytes.fromhex(file_hash(item)))
    return digest.hexdigest()


def provenance(data: str | Path | None, argv: list[str]) -> dict[str, Any]:
    """What a dataset report needs to be rerun: the command, the data's hash, versions, and the
    fingerprint of Kindred's own code."""
    return {"command": argv, "data": str(data) if data is not None else None,
            "data_sha256": data_hash(data) if data is not None else None,
            "code_sha256": code_fingerprint(), "environment": environment()}


CODE_PACKAGES = ("agent", "evals", "graphs", "memory", "personas")
_CODE_SUFFIXES = (".py", ".json", ".yaml", ".yml")


def code_fingerprint() -> str:
    """SHA-256 of Kindred's source (the .py, .json and .yaml files of its packages, paths and
    contents). Why not the version number: a run that resumes from a checkpoint after a code edit
    would silently mix two programs' results; the fingerprint changes with any edit."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for package in CODE_PACKAGES:
        for item in sorted(p for p in (root / package).rglob("*")
                           if p.suffix in _CODE_SUFFIXES and p.is_file()
                           and "__pycache__" not in p.parts):
            digest.update(item.relative_to(root).as_posix().encode() + b"\0")
            digest.update(item.read_bytes() + b"\0")
    return digest.hexdigest()


def environment() -> dict[str, Any]:
    """Versions of Python and of the packages a result depends on."""
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {"python": platform.python_version(), "platform": platform.platform(terse=True),
            "packages": versions}


def print_summary(run: dict[str, Any], console: Console) -> None:
    table = Table(title=f"Evaluation scripts (model {run['model']})")
    for col in ("script", "steps", "passed", "failed", "skipped"):
        table.add_column(col, justify="left" if col == "script" else "right")
    for res in run["scripts"]:
        table.add_row(res["name"], str(res["steps"]), str(res["passed"]),
                      f"[bold red]{res['failed']}[/]" if res["failed"] else "0", str(res["skipped"]))
    console.print(table)
    for res in run["scripts"]:
        for o in res["outcomes"]:
            if o["passed"] is False:
                console.print(f"[red]FAIL[/] {res['file']}:{o['line']} step {o['step']} "
                              f"({o['step_kind']}, {o['user']}) {o['kind']}: {o['expected']!r} "
                              f"— {o['detail']}")


def _plot(run: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for res in run["scripts"]:
        for o in res["outcomes"]:
            by_kind[o["kind"]][0 if o["passed"] is True else 1 if o["passed"] is False else 2] += 1
    kinds = sorted(by_kind)
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(kinds) + 1.5), dpi=120)
    left = [0] * len(kinds)
    for j, (label, color) in enumerate((("passed", "tab:green"), ("failed", "tab:red"),
                                        ("skipped", "tab:gray"))):
        values = [by_kind[k][j] for k in kinds]
        ax.barh(kinds, values, left=left, color=color, label=label)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_xlabel("expectations")
    ax.set_title(f"Scripted evaluation, model {run['model']}")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def write_report(run: dict[str, Any], out_dir: Path) -> list[Path]:
    """results.json, report.md and expectations.png in ``out_dir``; returns the paths."""
    import json

    out_dir.mkdir(parents=True, exist_ok=True)
    results = out_dir / "results.json"
    results.write_text(json.dumps(run, indent=2, default=str) + "\n", encoding="utf-8")
    plot = out_dir / "expectations.png"
    _plot(run, plot)
    lines = ["# Kindred scripted evaluation", "",
             f"Model **{run['model']}**, seed {run['seed']}, judge {run.get('judge') or 'none'}. "
             f"{sum(r['passed'] for r in run['scripts'])} passed, "
             f"{sum(r['failed'] for r in run['scripts'])} failed, "
             f"{sum(r['skipped'] for r in run['scripts'])} skipped.", "",
             "| script | file (sha256) | steps | passed | failed | skipped |",
             "|---|---|---|---|---|---|"]
    for res in run["scripts"]:
        lines.append(f"| {res['name']} | `{res['file']}` ({res['sha256'][:12]}) | {res['steps']} | "
                     f"{res['passed']} | {res['failed']} | {res['skipped']} |")
    lines += ["", "![expectations by kind](expectations.png)", "", "## Expectations", ""]
    for res in run["scripts"]:
        lines.append(f"### {res['name']}")
        lines.append("")
        for o in res["outcomes"]:
            mark = {True: "pass", False: "**FAIL**", None: "skipped"}[o["passed"]]
            lines.append(f"- {mark}: line {o['line']}, step {o['step']} ({o['step_kind']}, "
                         f"{o['user']}) `{o['kind']}: {o['expected']}` — {o['detail']}")
        lines.append("")
    env = run["environment"]
    lines += ["## Environment", "", f"Python {env['python']} on {env['platform']}.", ""]
    lines += [f"- {name} {version}" for name, version in env["packages"].items()]
    lines += ["", "Settings overridden: " + (", ".join(f"`{k}={v}`" for k, v in
                                                       run["settings"].items()) or "none"), ""]
    report = out_dir / "report.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    return [results, report, plot]


def _index(run: dict[str, Any]) -> dict[tuple, dict[str, Any]]:
    return {(res["name"], o["step"], o["kind"], str(o["expected"])): o
            for res in run["scripts"] for o in res["outcomes"]}


def compare_runs(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """What changed from run A to run B: expectations that flipped, appeared or disappeared."""
    ia, ib = _index(a), _index(b)
    changed = [{"script": k[0], "step": k[1], "kind": k[2], "expected": k[3],
                "before": ia[k]["passed"], "after": ib[k]["passed"]}
               for k in ia.keys() & ib.keys() if ia[k]["passed"] != ib[k]["passed"]]
    totals = {run_name: {"passed": sum(r["passed"] for r in run["scripts"]),
                         "failed": sum(r["failed"] for r in run["scripts"])}
              for run_name, run in (("a", a), ("b", b))}
    return {"changed": sorted(changed, key=lambda c: (c["script"], c["step"])),
            "only_in_a": sorted(str(k) for k in ia.keys() - ib.keys()),
            "only_in_b": sorted(str(k) for k in ib.keys() - ia.keys()),
            "totals": totals, "model": {"a": a.get("model"), "b": b.get("model")}}


def print_compare(diff: dict[str, Any], console: Console) -> None:
    t = diff["totals"]
    console.print(f"A ({diff['model']['a']}): {t['a']['passed']} passed, {t['a']['failed']} failed"
                  f"  →  B ({diff['model']['b']}): {t['b']['passed']} passed, "
                  f"{t['b']['failed']} failed")
    if not diff["changed"] and not diff["only_in_a"] and not diff["only_in_b"]:
        console.print("No expectation changed.")
        return
    table = Table(title="Changed expectations")
    for col in ("script", "step", "expectation", "A", "B"):
        table.add_column(col)
    word = {True: "pass", False: "[red]fail[/]", None: "skipped"}
    for c in diff["changed"]:
        table.add_row(c["script"], str(c["step"]), f"{c['kind']}: {c['expected']}",
                      word[c["before"]], word[c["after"]])
    console.print(table)
    for side in ("only_in_a", "only_in_b"):
        for key in diff[side]:
            console.print(f"{side.replace('_', ' ')}: {key}")
