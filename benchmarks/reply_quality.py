"""What a person sees in the replies: memory used, no loops, no prompt text (any chat model).

    # replay a scripted multi-session conversation and keep every reply
    .venv/bin/python benchmarks/reply_quality.py run demos/evals/remembers_in_replies.yaml \\
        --model local --out out/replies_after.json
    # score one or more runs side by side
    .venv/bin/python benchmarks/reply_quality.py score out/replies_before.json out/replies_after.json

``run`` needs only the public API (``Kindred``, ``chat``, ``end_session``) and reads the script's
``say``/``end_session`` steps and their ``reply_contains``/``reply_matches`` probes itself, so it
runs on older checkouts too (``PYTHONPATH=<checkout>``): a before/after pair is the same command on
two trees. ``score`` reports, per run: the share of probes whose reply uses the remembered fact,
the share of replies that repeat an earlier reply of their session, that say the user's message
back, and that copy the prompt's instructions, counted by
:func:`evals.script_runner.reply_stats` (the rules of :mod:`graphs.reply_review`, as ``kindred eval
script`` reports them).
"""

from __future__ import annotations

import _common  # noqa: F401  (process defaults before torch)

import argparse
import json
import re
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml

from _common import machine, stamp

_GAP = re.compile(r"^\+?\s*(\d+)\s*(second|minute|hour|day|week)s?$")
_UNIT = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}


def _gap(text: str) -> float:
    m = _GAP.match(text.strip())
    if not m:
        raise SystemExit(f"unreadable gap {text!r}")
    return int(m.group(1)) * _UNIT[m.group(2)]


def run(script: Path, model: str, out: Path) -> None:
    from agent import Kindred, KindredError

    spec = yaml.safe_load(script.read_text())
    now = datetime.fromisoformat(str(spec["start"]).replace("Z", "+00:00")).timestamp()
    rows = []
    with tempfile.TemporaryDirectory(prefix="kindred-rq-") as tmp:
        bot = Kindred(data_dir=tmp, chat_model=model)
        if hasattr(bot.chat_model, "load"):
            bot.chat_model.load()
        started = time.perf_counter()
        for n, step in enumerate(spec["steps"]):
            (kind, body), = step.items()
            now += _gap(body["gap"]) if "gap" in body else (60 if n else 0)
            if kind == "say":
                probes = [e for e in body.get("expect", [])
                          if {"reply_contains", "reply_matches"} & set(e)]
                try:
                    reply = bot.chat(body["user"], body["text"], at=now)
                except KindredError as exc:  # a model that fails a turn: counted, not fatal
                    rows.append({"user": body["user"], "session": "?", "text": body["text"],
                                 "reply": "", "probes": probes, "error": str(exc)})
                    continue
                rows.append({"user": body["user"], "session": reply.session_id,
                             "text": body["text"], "reply": reply.text, "probes": probes,
                             "prompt": reply.trace.messages})
            elif kind == "end_session":
                bot.end_session(body["user"], at=now)
        seconds = time.perf_counter() - started
        agent = getattr(bot, "agent_name", "Kindred")
        label = bot.model_name
        bot.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"script": str(script), "model": label, "agent": agent,
                               "seconds": seconds, "when": stamp(), "machine": machine(),
                               "replies": rows}, indent=1))
    print(f"{len(rows)} replies in {seconds:.0f} s → {out}")


def _uses(probe: dict, reply: str) -> bool:
    if "reply_contains" in probe:
        return str(probe["reply_contains"]).lower() in reply.lower()
    return bool(re.search(str(probe["reply_matches"]), reply))


def score(paths: list[Path]) -> None:
    from evals.script_runner import reply_stats

    print(f"# reply quality — {stamp()} — {machine()}")
    print("| run | replies | failed turns | probes using the fact | repeats | echoes | prompt leaks "
          "| s/reply |")
    print("|---|---|---|---|---|---|---|---|")
    for path in paths:
        run_ = json.loads(path.read_text())
        rows = run_["replies"]
        answered = [row for row in rows if not row.get("error")]
        stats = reply_stats([{"user": r["user"], "session": r["session"], "text": r["reply"],
                              "said": r["text"]} for r in answered],
                            run_["agent"])  # the rules `eval script` uses
        probes = sum(len(row["probes"]) for row in rows)
        used = sum(_uses(probe, row["reply"]) for row in answered for probe in row["probes"])
        n, failed = len(rows) or 1, len(rows) - len(answered)
        repeated, echoed, leaked = stats["repeats"], stats["echoes"], stats["leaks"]
        print(f"| {path.stem} ({run_['model']}) | {len(rows)} | {failed} | {used}/{probes} "
              f"({100 * used / max(probes, 1):.0f}%) | {repeated} ({100 * repeated / n:.0f}%) "
              f"| {echoed} ({100 * echoed / n:.0f}%) | {leaked} ({100 * leaked / n:.0f}%) "
              f"| {run_['seconds'] / n:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("script", type=Path)
    r.add_argument("--model", default="local")
    r.add_argument("--out", type=Path, required=True)
    s = sub.add_parser("score")
    s.add_argument("runs", type=Path, nargs="+")
    args = parser.parse_args()
    if args.command == "run":
        run(args.script, args.model, args.out)
    else:
        score(args.runs)


if __name__ == "__main__":
    main()
