"""``kindred eval``: the evaluation commands, plugged into Kindred's CLI.

The ``kindred`` command finds this sub-app through the ``kindred.cli`` entry point (see
``pyproject.toml``), so the product's CLI never imports the evaluation package: a plain
``pip install kindred`` has the chat, the service and the memory commands, and ``kindred eval``
says which extra to install.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from evals.ablation import STAGE_OFF, deep_merge
from memory.errors import KindredError

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Evaluations on real dialogue data.")

_console = Console(highlight=False)
_err = Console(stderr=True, highlight=False)

_NO_EVENTS = typer.Option(False, "--no-events", help="ablation: no event memory")
_NO_PERSONA = typer.Option(False, "--no-persona", help="ablation: no persona traits")
_NO_FEEDBACK = typer.Option(False, "--no-feedback", help="ablation: no feedback memory")
_NO_TOPIC = typer.Option(False, "--no-topic", help="ablation: no topic scoring")
_CHECKPOINT = typer.Option(None, "--checkpoint",
                           help="JSON-lines file of finished units: a stopped run resumes from it")


def _ablations(no_events: bool, no_persona: bool, no_feedback: bool, no_topic: bool
               ) -> dict[str, Any]:
    """Settings that switch pipeline stages off (LD-Agent's ablation table), as a nested dict."""
    flags = {"no-events": no_events, "no-persona": no_persona, "no-feedback": no_feedback,
             "no-topic": no_topic}
    return deep_merge(*(STAGE_OFF[name] for name, off in flags.items() if off))


def _cutoffs(k: str) -> list[int]:
    """The --k option as sorted positive integers, or exit 2 saying what it takes."""
    try:
        ks = sorted({int(x) for x in k.split(",") if x.strip()})
        if not ks or ks[0] < 1:
            raise ValueError
    except ValueError:
        _err.print("[bold red]error:[/] --k takes positive integers, e.g. 5,10,25")
        raise typer.Exit(2) from None
    return ks


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def _write_report(path: Path, report: dict, source: Path | None) -> None:
    """An evaluation's JSON report with its provenance (the command, the SHA-256 of the data it
    read, package versions), so anyone can tell whether their rerun is the same run."""
    from evals.script_report import provenance

    _write_json(path, {**report, "provenance": provenance(source, ["kindred", *sys.argv[1:]])})


def _answering_model(name: str, settings):
    """A chat model by name; the local one is loaded now, under a spinner, not at the first turn."""
    from agent.models import is_local, make_chat_model

    model = make_chat_model(name, settings)
    if is_local(model):
        with _console.status("Loading the local model…"):
            model.load()
    return model


@app.command("locomo")
def _eval_locomo(data: Path = typer.Option(..., "--data", help="path of locomo10.json"),
                k: str = typer.Option("5,10,25,50", "--k", help="comma-separated cut-offs"),
                json_out: Path | None = typer.Option(None, "--json", help="write the report"),
                plot: Path | None = typer.Option(None, "--plot", help="write a PNG of recall@k"),
                convs: int | None = typer.Option(None, "--convs", help="first N conversations")
                ) -> None:
    """Evidence recall@k on LoCoMo, with BM25-alone and dense-alone baselines beside it."""

    from rich.progress import Progress

    from evals.locomo import evaluate_locomo, load_locomo
    from evals.report import plot_recall, print_recall_report
    from agent.kindred import Kindred

    ks = _cutoffs(k)
    try:
        conversations = load_locomo(data)[:convs] if convs else load_locomo(data)
        total = sum(len(c.questions) for c in conversations)
        with Progress(console=_err) as progress:
            task = progress.add_task("LoCoMo: replay and retrieve", total=total)
            report = evaluate_locomo(
                conversations, ks,
                make_bot=lambda d: Kindred(data_dir=d, chat_model="fake"),
                progress=lambda _conv, n: progress.advance(task, n))
    except KindredError as exc:
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    print_recall_report(report, _console)
    if json_out:
        _write_report(json_out, report, data)
    if plot:
        plot_recall(report, plot)


_ABLATION_TABLE = typer.Option(False, "--ablation-table",
                               help="run every row of LD-Agent's ablation table (all stages, then "
                                    "without events, persona, topic scoring) and print them")
_PLOT = typer.Option(None, "--plot", help="write a PNG (with --ablation-table: the table as bars)")


def _ablation_rows(table: bool, no_events: bool, no_persona: bool, no_topic: bool
                   ) -> list[tuple[str, dict[str, bool]]]:
    """The configurations to run: one from the --no-* flags, or every row of the ablation table."""
    from evals.ablation import ABLATIONS

    if not table:
        return [("run", _ablations(no_events, no_persona, False, no_topic))]
    if no_events or no_persona or no_topic:
        _err.print("[bold red]error:[/] --ablation-table runs every --no-* row itself: "
                   "drop the --no-* flags")
        raise typer.Exit(2)
    return [(slug, overrides) for slug, _, overrides in ABLATIONS]


def _row_checkpoint(checkpoint: Path | None, slug: str) -> Path | None:
    """One checkpoint file per ablation row (FILE.no-events.jsonl…), FILE itself for a single run."""
    if checkpoint is None or slug == "run":
        return checkpoint
    return checkpoint.with_name(f"{checkpoint.stem}.{slug}{checkpoint.suffix or '.jsonl'}")


# settings that say where things live or how to reach a server, not what a run computes
_NOT_RESULT_SETTINGS = frozenset({"data_dir", "model_cache_dir", "api_key", "base_url",
                                  "chat_model", "storage", "service"})


def _changed_settings(settings) -> dict[str, Any]:
    """What ``KINDRED_*`` variables changed from the defaults that can change a run's figures: a
    checkpoint written under other values must not be resumed, and reports must say so."""
    return settings.changed(exclude=_NOT_RESULT_SETTINGS)


def _run_configurations(configurations: list[tuple[str, dict[str, bool]]],
                        checkpoint: Path | None, title: str, total: int, chat_model, embedder,
                        config: dict[str, Any], evaluate) -> dict[str, dict[str, Any]]:
    """One dataset run per configuration (one, or each ablation row): its own checkpoint (whose
    header is ``config`` with the model, the fingerprint of Kindred's code and the row's settings on
    top of ``config["settings"]``, the changed ones from the environment), fresh memories with
    those settings, a progress bar titled ``title`` (``{}`` is the row). ``evaluate(checkpoint=,
    make_bot=, progress=)`` is the runner with its data bound. Reports by row slug."""
    from rich.progress import Progress

    from evals.checkpoint import Checkpoint
    from evals.script_report import code_fingerprint
    from agent.kindred import Kindred
    from agent.models import model_label

    reports: dict[str, dict[str, Any]] = {}
    header = {**config, "model": model_label(chat_model), "code": code_fingerprint()}
    for slug, overrides in configurations:
        saved = Checkpoint(_row_checkpoint(checkpoint, slug),
                           {**header, "settings": deep_merge(config["settings"], overrides)})
        with Progress(console=_err) as progress:
            task = progress.add_task(title.format(slug), total=total)
            reports[slug] = evaluate(
                checkpoint=saved,
                make_bot=lambda d, o=overrides: Kindred(data_dir=d, chat_model=chat_model,
                                                        embedder=embedder, **o),
                progress=lambda n, t=task, p=progress: p.advance(t, n))
    return reports


def _finish_ablation(rows: dict[str, dict[str, Any]], metrics: list[tuple[str, str]], title: str,
                     json_out: Path | None, plot: Path | None, data: Path, model: str,
                     settings: dict[str, Any]) -> None:
    from evals.ablation import plot_ablation, print_ablation

    print_ablation(rows, metrics, title, _console)
    if json_out:
        _write_report(json_out, {"model": model, "settings": settings, "ablation": rows}, data)
    if plot:
        plot_ablation(rows, metrics, title, plot)


@app.command("longmemeval")
def _eval_longmemeval(
        data: Path = typer.Option(..., "--data", help="LongMemEval JSON (plain or .gz)"),
        questions: int | None = typer.Option(None, "--questions",
                                             help="at most N questions, taken in turn from each "
                                                  "type (default: all)"),
        types: str | None = typer.Option(None, "--types", help="comma-separated question types"),
        part: str = typer.Option("all", "--part", help="all | even | odd: the questions at even "
                                                       "or odd positions of the file (choose "
                                                       "weights on one, report the other)"),
        k: str = typer.Option("5,10", "--k", help="comma-separated cut-offs"),
        qa: bool = typer.Option(False, "--qa", help="also answer each question and judge it"),
        model: str = typer.Option("fake", "--model", "-m", help="the answering model (--qa)"),
        judge: str | None = typer.Option(None, "--judge", help="the judge model (--qa)"),
        json_out: Path | None = typer.Option(None, "--json", help="write the report"),
        plot: Path | None = typer.Option(None, "--plot", help="write a PNG by question type"),
        floor_every: int = typer.Option(1, "--floor-every", min=1,
                                        help="time the embedder alone on every Nth question "
                                             "(it costs about what the replay's encodes cost; "
                                             "10 for the whole split)"),
        checkpoint: Path | None = _CHECKPOINT) -> None:
    """LongMemEval: session and turn recall by question type, with BM25 and dense baselines;
    ingest throughput against the embedder alone; --qa answers and judges."""
    from evals.longmemeval import TYPES, evaluate_longmemeval, load_longmemeval
    from evals.report import plot_longmemeval, print_longmemeval_report
    from agent.models import make_chat_model
    from agent.settings import Settings
    from memory.embeddings import default_embedder

    ks = _cutoffs(k)
    wanted = [t.strip() for t in types.split(",")] if types else list(TYPES)
    unknown = [t for t in wanted if t not in TYPES]
    if unknown or part not in ("all", "even", "odd"):
        _err.print(f"[bold red]error:[/] unknown --types {unknown} (known: {', '.join(TYPES)})"
                   if unknown else "[bold red]error:[/] --part is all, even or odd")
        raise typer.Exit(2)
    try:
        loaded = load_longmemeval(data)
        half = {q.question_id: ("even", "odd")[n % 2] for n, q in enumerate(loaded)}
        chosen = [q for q in loaded if q.question_type in wanted
                  and part in ("all", half[q.question_id])]
        by_type = [[q for q in chosen if q.question_type == t] for t in wanted]
        mixed = [q for group in zip(*[g + [None] * (len(chosen) - len(g)) for g in by_type],
                                    strict=True)
                 for q in group if q is not None]  # round robin over the types
        chosen = mixed[:questions] if questions else mixed
        settings = Settings()
        changed = _changed_settings(settings)
        chat_model = _answering_model(model, settings) if qa else "fake"
        judge_model = make_chat_model(judge, settings) if (qa and judge) else None
        embedder = default_embedder(settings.embedder, settings.model_cache_dir)
        reports = _run_configurations(
            [("run", {})], checkpoint, "LongMemEval: replay and retrieve", len(chosen),
            chat_model, embedder,
            {"run": "longmemeval", "data": str(data.resolve()), "k": ks, "qa": qa,
             "judge": judge, "questions": [q.question_id for q in chosen], "settings": changed},
            lambda **run: evaluate_longmemeval(chosen, ks, qa=qa, judge=judge_model,
                                               floor_every=floor_every,
                                               # a run over both halves reports each too
                                               parts=half if part == "all" else None, **run))
    except KindredError as exc:
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    report = reports["run"]
    print_longmemeval_report(report, _console, ks)
    if json_out:
        _write_report(json_out, {"settings": changed, "part": part, **report}, data)
    if plot:
        plot_longmemeval(report, plot, ks)


@app.command("locomo-qa")
def _eval_locomo_qa(data: Path = typer.Option(..., "--data", help="path of locomo10.json"),
                   model: str = typer.Option("local", "--model", "-m", help="the answering model"),
                   convs: int | None = typer.Option(None, "--convs", help="first N conversations"),
                   questions: int | None = typer.Option(None, "--questions",
                                                        help="first N questions of each"),
                   judge: str | None = typer.Option(None, "--judge", help="optional judge model"),
                   json_out: Path | None = typer.Option(None, "--json", help="write the report"),
                   plot: Path | None = _PLOT, checkpoint: Path | None = _CHECKPOINT,
                   ablation_table: bool = _ABLATION_TABLE,
                   no_events: bool = _NO_EVENTS, no_persona: bool = _NO_PERSONA,
                   no_topic: bool = _NO_TOPIC) -> None:
    """LoCoMo QA: answers from memory by the chosen model, token F1 as the LoCoMo paper scores it."""

    from evals.locomo import load_locomo
    from evals.locomo_qa import evaluate_locomo_qa
    from agent.models import make_chat_model
    from agent.settings import Settings
    from memory.embeddings import default_embedder

    configurations = _ablation_rows(ablation_table, no_events, no_persona, no_topic)
    try:
        conversations = load_locomo(data)[:convs] if convs else load_locomo(data)
        settings = Settings()
        changed = _changed_settings(settings)
        chat_model = _answering_model(model, settings)
        judge_model = make_chat_model(judge, settings) if judge else None
        embedder = default_embedder(settings.embedder, settings.model_cache_dir)
        total = sum(min(len(c.questions), questions or len(c.questions)) for c in conversations)
        reports = _run_configurations(
            configurations, checkpoint, "LoCoMo QA ({}): replay and answer", total, chat_model,
            embedder, {"run": "locomo-qa", "data": str(data.resolve()), "judge": judge,
                       "convs": convs, "questions": questions,
                       "settings": changed},
            lambda **run: evaluate_locomo_qa(conversations, max_questions=questions,
                                             judge=judge_model, **run))
    except KindredError as exc:
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    if ablation_table:
        from evals.ablation import run_ablations

        metrics = [("f1", "F1"), *((c, f"F1 cat. {c}") for c in reports["full"]["by_category"])]
        rows = run_ablations(lambda slug, _: {"f1": reports[slug]["f1"],
                                              **reports[slug]["by_category"],
                                              "n_questions": reports[slug]["n_questions"],
                                              "seconds": reports[slug]["seconds"]})
        _finish_ablation(rows, metrics, f"LoCoMo QA ablations, model {model}", json_out, plot,
                         data, model, changed)
        return
    report, overrides = reports["run"], configurations[0][1]
    _console.print(f"LoCoMo QA, model {model}: F1 {100 * report['f1']:.1f} on "
                   f"{report['n_questions']} questions; by category " +
                   ", ".join(f"{c}: {100 * v:.1f}" for c, v in report["by_category"].items()) +
                   (f"; judge accuracy {100 * report['judge_accuracy']:.1f}"
                    if "judge_accuracy" in report else "") +
                   f"; {report['seconds']:.0f} s ({report['answer_s_p50']:.1f} s per answer, p50)")
    if json_out:
        _write_report(json_out, {"model": model, "settings": deep_merge(changed, overrides), **report},
                      data)
    if plot:
        from evals.ablation import plot_ablation

        plot_ablation({"run": {"label": f"model {model}", "f1": report["f1"],
                               **report["by_category"]}},
                      [("f1", "F1"), *((c, f"cat. {c}") for c in report["by_category"])],
                      f"LoCoMo QA, {report['n_questions']} questions", plot)


@app.command("msc-gen")
def _eval_msc_generation(
        data: Path = typer.Option(..., "--data", help="the MSC folder"),
        model: str = typer.Option("local", "--model", "-m", help="the generating model"),
        sessions: str = typer.Option("2,3,4", "--sessions", help="sessions to generate, 2-4"),
        episodes: int | None = typer.Option(None, "--episodes", help="first N held-out episodes"),
        replies: int | None = typer.Option(None, "--replies",
                                           help="at most N generated replies per session"),
        json_out: Path | None = typer.Option(None, "--json", help="write the report"),
        plot: Path | None = _PLOT, checkpoint: Path | None = _CHECKPOINT,
        ablation_table: bool = _ABLATION_TABLE,
        no_events: bool = _NO_EVENTS, no_persona: bool = _NO_PERSONA,
        no_topic: bool = _NO_TOPIC) -> None:
    """MSC response generation (LD-Agent's protocol): BLEU-2/3, ROUGE-L, Dist-1/2."""

    from evals.msc import load_sessions
    from evals.msc_generation import evaluate_msc_generation
    from agent.settings import Settings
    from memory.embeddings import default_embedder

    try:
        chosen = sorted({int(x) for x in sessions.split(",") if x.strip()})
        if not chosen or not set(chosen) <= {2, 3, 4}:
            raise ValueError
    except ValueError:
        _err.print("[bold red]error:[/] --sessions takes numbers from 2 to 4, e.g. 2,3,4")
        raise typer.Exit(2) from None
    configurations = _ablation_rows(ablation_table, no_events, no_persona, no_topic)
    try:
        eps = load_sessions(data)
        eps = eps[:episodes] if episodes else eps
        settings = Settings()
        changed = _changed_settings(settings)
        chat_model = _answering_model(model, settings)
        embedder = default_embedder(settings.embedder, settings.model_cache_dir)
        total = sum(min(len(d[k - 1]) // 2, replies or 10**6) for _, d in eps for k in chosen)
        reports = _run_configurations(
            configurations, checkpoint, "MSC ({}): generate sessions " + sessions, total,
            chat_model, embedder, {"run": "msc-gen", "data": str(data.resolve()),
                                   "sessions": chosen, "episodes": episodes, "replies": replies,
                                   "settings": changed},
            lambda **run: evaluate_msc_generation(eps, sessions=chosen, max_replies=replies,
                                                  **run))
    except KindredError as exc:
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    metrics = [("bleu2", "BLEU-2"), ("bleu3", "BLEU-3"), ("rougeL", "ROUGE-L"), ("dist1", "Dist-1"),
               ("dist2", "Dist-2")]
    if ablation_table:
        from evals.ablation import run_ablations

        rows = run_ablations(lambda slug, _: {k: v for k, v in reports[slug].items()
                                              if k != "replies"})
        _finish_ablation(rows, metrics, f"MSC generation ablations, model {model}", json_out, plot,
                         data, model, changed)
        return
    report, overrides = reports["run"], configurations[0][1]
    _console.print(f"MSC generation, model {model}, {report['n_replies']} replies: BLEU-2 "
                   f"{100 * report['bleu2']:.2f}, BLEU-3 {100 * report['bleu3']:.2f}, ROUGE-L "
                   f"{100 * report['rougeL']:.2f}, Dist-1 {100 * report['dist1']:.1f}, Dist-2 "
                   f"{100 * report['dist2']:.1f}; {report['seconds']:.0f} s")
    if json_out:
        _write_report(json_out, {"model": model, "settings": deep_merge(changed, overrides), **report},
                      data)
    if plot:
        from evals.ablation import plot_ablation

        plot_ablation({"run": {"label": f"model {model}", **report}}, metrics,
                      f"MSC generation, {report['n_replies']} replies", plot)


@app.command("msc-persona")
def _eval_msc_persona(
        data: Path = typer.Option(..., "--data", help="the MSC folder (personasummary/, dialogue/)"),
        sessions: str = typer.Option("1,2,3,4", "--sessions", help="comma-separated, 1-4"),
        json_out: Path | None = typer.Option(None, "--json", help="write the report"),
        plot: Path | None = typer.Option(None, "--plot", help="write a PNG per session"),
        split: str = typer.Option("heldout", "--split",
                                  help="heldout (odd episodes: the detector never saw them) | all"),
        episodes: int | None = typer.Option(None, "--episodes",
                                            help="bank coverage on the first N episodes only"),
        bank: bool = typer.Option(True, "--bank/--no-bank", help="measure bank coverage")) -> None:
    """Persona extraction on MSC (LD-Agent's metric): detection, BLEU, ROUGE-L, bank coverage."""

    from rich.progress import Progress

    from evals.msc import load_persona_utterances, load_session3
    from evals.msc_persona import bank_coverage, evaluate_extraction
    from evals.report import plot_persona, print_persona_report
    from agent.settings import Settings
    from memory.embeddings import default_embedder
    from personas.extract import RuleTraitExtractor

    if split not in ("heldout", "all"):
        _err.print("[bold red]error:[/] --split is heldout or all (the fit half is for fitting)")
        raise typer.Exit(2)
    try:
        chosen = sorted({int(x) for x in sessions.split(",") if x.strip()})
        if not chosen or not set(chosen) <= {1, 2, 3, 4}:
            raise ValueError
    except ValueError:
        _err.print("[bold red]error:[/] --sessions takes numbers from 1 to 4, e.g. 1,2,3,4")
        raise typer.Exit(2) from None
    try:
        utterances = load_persona_utterances(data, chosen, split)  # type: ignore[arg-type]
        with _console.status("Loading spaCy's parser…"):
            extractor = RuleTraitExtractor()
        with Progress(console=_err) as progress:
            task = progress.add_task("MSC: extract persona traits", total=len(utterances))
            report = evaluate_extraction(extractor.extract_many, utterances,
                                         progress=lambda n: progress.advance(task, n))
            report = {"split": split, "sessions": chosen, **report}
            if bank:
                eps = load_session3(data, split)[:episodes] if episodes else load_session3(data, split)
                task = progress.add_task("MSC: replay sessions 1-3 into the bank", total=len(eps))
                settings = Settings()
                coverage = bank_coverage(extractor.extract_many, eps,
                                         default_embedder(settings.embedder,
                                                          settings.model_cache_dir),
                                         progress=lambda n: progress.advance(task, n))
                report["bank_coverage"] = coverage.pop("bank_coverage")
                report["bank"] = coverage
    except KindredError as exc:
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    print_persona_report(report, _console)
    if json_out:
        _write_report(json_out, report, data)
    if plot:
        plot_persona(report, plot)


@app.command("script")
def _eval_script(files: list[Path] = typer.Argument(..., help="YAML evaluation scripts"),
                model: str = typer.Option("fake", "--model", "-m",
                                          help="fake (the script's replies) | local | openai:… | "
                                               "ollama:…"),
                report: Path | None = typer.Option(None, "--report",
                                                   help="write results.json, report.md, PNG here"),
                seed: int = typer.Option(0, "--seed", help="seed for torch/numpy/random"),
                judge: str | None = typer.Option(None, "--judge",
                                                 help="chat model that grades reply_judge"),
                no_events: bool = _NO_EVENTS, no_persona: bool = _NO_PERSONA,
                no_feedback: bool = _NO_FEEDBACK, no_topic: bool = _NO_TOPIC) -> None:
    """Run scripted multi-session evaluations; exit code 1 when an expectation fails."""
    from rich.progress import Progress

    from evals.script import load_script
    from evals.script_report import environment, file_hash, print_summary, write_report
    from evals.script_runner import run_script
    from agent.kindred import Kindred
    from agent.models import make_chat_model
    from agent.settings import Settings
    from memory.embeddings import default_embedder

    _seed_everything(seed)
    overrides = _ablations(no_events, no_persona, no_feedback, no_topic)
    try:
        scripts = [(path, load_script(path)) for path in files]
        base = Settings(**overrides)
        embedder = default_embedder(base.embedder, base.model_cache_dir)
        chat_model = None if model == "fake" else make_chat_model(model, base)
        judge_model = make_chat_model(judge, base) if judge else None
        results = []
        with Progress(console=_err) as progress:
            for path, script in scripts:
                task = progress.add_task(script.name[:40], total=len(script.steps))
                settings = deep_merge(script.settings, overrides)
                result = run_script(
                    script, chat_model=chat_model, judge=judge_model,
                    make_bot=lambda d, m, settings=settings: Kindred(
                        data_dir=d, chat_model=m, embedder=embedder, **settings),
                    progress=lambda n, task=task: progress.advance(task, n))
                results.append({"file": str(path), "sha256": file_hash(path), **result})
    except KindredError as exc:
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    run = {"model": model, "judge": judge, "seed": seed, "settings": overrides,
           "environment": environment(), "scripts": results}
    print_summary(run, _console)
    if report:
        for path in write_report(run, report):
            _console.print(f"wrote {path}")
    if any(r["failed"] for r in results):
        raise typer.Exit(1)


@app.command("compare")
def _eval_compare(a: Path = typer.Argument(..., help="results.json of run A"),
                 b: Path = typer.Argument(..., help="results.json of run B"),
                 json_out: Path | None = typer.Option(None, "--json", help="write the diff")) -> None:
    """What changed between two scripted runs (expectations that flipped, appeared, vanished)."""

    from evals.script_report import compare_runs, print_compare

    runs = []
    for path in (a, b):
        try:
            runs.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            _err.print(f"[bold red]error:[/] cannot read {path}: {exc} (pass the results.json that "
                       "`kindred eval script --report DIR` wrote)")
            raise typer.Exit(2) from None
    try:
        diff = compare_runs(*runs)
    except (KeyError, TypeError) as exc:
        _err.print(f"[bold red]error:[/] not a results.json of `kindred eval script`: missing {exc}")
        raise typer.Exit(2) from None
    print_compare(diff, _console)
    if json_out:
        _write_json(json_out, diff)


def _seed_everything(seed: int) -> None:
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@app.command("feedback")
def _eval_feedback(json_out: Path | None = typer.Option(None, "--json", help="write the report"),
                  plot: Path | None = typer.Option(None, "--plot", help="learning curve PNG"),
                  mode: str = typer.Option("dense", "--mode", help="dense | lexical"),
                  threshold: float | None = typer.Option(None, "--threshold",
                                                         help="default: the calibrated setting"),
                  seed: int = typer.Option(0, "--seed")) -> None:
    """MemPrompt-style stream: hit rate on held-out paraphrases, false matches, learning curve."""
    import tempfile

    from evals.feedback import plot_learning_curve, run_feedback_stream
    from agent.settings import Settings
    from memory.backends import open_stores
    from memory.embeddings import default_embedder
    from memory.feedback import FeedbackMemory

    if mode not in ("dense", "lexical"):
        _err.print("[bold red]error:[/] --mode is dense or lexical")
        raise typer.Exit(2)
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="kindred-fb-") as tmp, \
            _console.status("Running the feedback stream…"):
        stores = open_stores(Path(tmp))
        config = settings.feedback.model_copy(update={"mode": mode} | (
            {} if threshold is None else {"threshold": threshold}))
        memory = FeedbackMemory(stores, default_embedder(settings.embedder,
                                                         settings.model_cache_dir), config)
        report = run_feedback_stream(memory, seed=seed)
        stores.close()
    summary = {k: v for k, v in report.items() if k != "log"}
    for key in ("steps", "hit_rate", "false_match_rate", "memory_size", "threshold", "mode",
                "lookup_ms_p50"):
        _console.print(f"{key:>18}: {summary[key]}")
    if json_out:
        _write_report(json_out, report, None)  # generated stream: the command holds its seed
    if plot:
        plot_learning_curve(report, plot)


