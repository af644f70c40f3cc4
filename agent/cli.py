"""``kindred``: the command line (chat, serve, graph, memory; plug-ins such as ``eval``).

Sub-commands of other packages arrive through the ``kindred.cli`` entry-point group (name →
a typer app): the evaluation package registers ``eval`` there, so this module never imports it,
and a plain ``pip install kindred`` says how to get it instead of failing on a missing import.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

from memory.process import apply_process_defaults

apply_process_defaults()  # the CLI owns its process: thread and offline defaults before torch

import typer  # noqa: E402  (after the process defaults)
from rich.console import Console  # noqa: E402

from memory.errors import KindredError  # noqa: E402

__all__ = ["app", "main"]

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Kindred: a dialogue agent that remembers the people it talks to.")
_memory_app = typer.Typer(no_args_is_help=True, help="Inspect or delete what Kindred remembers.")
app.add_typer(_memory_app, name="memory")

# what a missing plug-in needs, so the command can say so (name → install hint)
_PLUGIN_HINTS = {"eval": "pip install 'kindred[eval]' (or `make install` in a checkout)"}

_console = Console(highlight=False)
_err = Console(stderr=True, highlight=False)

_USER = typer.Option("me", "--user", "-u", help="who you are (your memory is kept under this id)")
_MODEL = typer.Option(None, "--model", "-m",
                      help="local[:llamacpp|:transformers] | fake | openai:<model> | ollama:<model> "
                           "(default: settings)")
_DATA = typer.Option(None, "--data-dir", "-d", help="where memory is stored (default ~/.kindred)")
_PERSONA = typer.Option(None, "--persona", help="agent persona card: a name or a YAML path")


def _open(data_dir: Path | None, model: str | None, persona: str | None = None):
    from agent.kindred import Kindred

    overrides = {k: v for k, v in {"data_dir": data_dir, "chat_model": model,
                                   "persona": persona}.items() if v is not None}
    return Kindred(**overrides)


@app.command("chat")
def _chat(user: str = _USER, model: str | None = _MODEL, data_dir: Path | None = _DATA,
         persona: str | None = _PERSONA,
         conversation: str = typer.Option("default", "--conversation", "-c",
                                          help="which of your conversations (made if new)")
         ) -> None:
    """Chat in the terminal with an agent that remembers you across sessions."""
    from agent.chat_loop import ChatLoop
    from agent.models import is_local
    from agent.validation import check_user_id

    try:
        check_user_id(user)
        with _console.status("Loading memory (embedder, spaCy, stores)…"):
            bot = _open(data_dir, model, persona)
        if is_local(bot.chat_model):
            with _console.status("Loading the local model (the first run converts its weights once, "
                                 "seconds with llama.cpp, ~30 s with transformers)…"):
                bot.chat_model.load()
    except KindredError as exc:
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    with bot:
        try:
            if not any(c.id == conversation for c in bot.list_conversations(user)) \
                    and conversation != "default":
                bot.create_conversation(user, conversation, conversation_id=conversation)
                _console.print(f"New conversation {conversation!r}.")
        except KindredError as exc:
            _err.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(2) from None
        ChatLoop(bot, user, _console, conversation=conversation).run()


@app.command("serve")
def _serve(host: str = typer.Option("127.0.0.1", "--host", help="interface to listen on"),
          port: int = typer.Option(8765, "--port", help="TCP port"),
          model: str | None = _MODEL, data_dir: Path | None = _DATA,
          persona: str | None = _PERSONA,
          insecure: bool = typer.Option(False, "--insecure",
                                        help="allow a non-loopback host with no API keys")) -> None:
    """Serve the agent over HTTP: the web chat at /, the JSON API under /v1 (OpenAI-compatible
    /v1/chat/completions), docs at /docs."""
    import uvicorn

    from agent.models import is_local
    from agent.service import create_app
    from agent.service.auth import ApiKeys

    loopback = host in ("127.0.0.1", "localhost", "::1")
    try:
        bot = _open(data_dir, model, persona)
        keys = ApiKeys.from_settings(bot.settings.service)
        if not keys and not loopback and not insecure:
            bot.close()
            _err.print(f"[bold red]error:[/] refusing to serve on {host} with no API keys: anyone "
                       "who can reach the port could read and erase every user's memory. Make a "
                       "key (`kindred keys add --tenant NAME --file keys.json`, then "
                       "KINDRED_API_KEYS_FILE=keys.json), or pass --insecure.")
            raise typer.Exit(2)
        if is_local(bot.chat_model):
            bot.chat_model.load()  # before the first request, not during it
    except KindredError as exc:
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    app = create_app(bot, keys=keys, owns_bot=True)
    if keys:
        _err.print(f"{len(keys)} API key(s) for tenant(s) {', '.join(sorted(keys.tenants))}")
    elif loopback:
        _err.print("No API keys configured: serving on loopback only (this machine).")
    else:
        _err.print(f"[yellow]warning:[/] --insecure: serving on {host} with no API keys.")
    _err.print(f"Kindred ({bot.model_name}) on http://{host}:{port}  (web chat: /, docs: /docs)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


_keys_app = typer.Typer(no_args_is_help=True, help="API keys of the HTTP service (one tenant "
                                                  "each).")
app.add_typer(_keys_app, name="keys")


@_keys_app.command("add")
def _keys_add(tenant: str = typer.Option(..., "--tenant", "-t", help="the tenant the key opens"),
              file: Path = typer.Option(Path("keys.json"), "--file", "-f",
                                        help="the keys file (its path goes in "
                                             "KINDRED_API_KEYS_FILE)"),
              name: str = typer.Option("", "--name", help="a note kept beside the digest")) -> None:
    """Make a new key for TENANT: printed once; only its SHA-256 digest is stored."""
    from agent.service.auth import ApiKeys

    try:
        key = ApiKeys.append_to_file(file, tenant, name)
    except KindredError as exc:
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    _err.print(f"New key of tenant {tenant!r}, stored hashed in {file} (it is not shown again):")
    print(key)


@app.command("graph")
def _graph() -> None:
    """Print the turn graph as a Mermaid diagram."""
    from graphs import draw_mermaid

    print(draw_mermaid())


def _existing(data_dir: Path | None) -> Path:
    """The data dir a memory command reads; it must exist (these commands never create one)."""
    from agent.settings import Settings

    path = Path(data_dir or Settings().data_dir).expanduser()
    if not (path / "kindred.db").is_file():
        _err.print(f"[bold red]error:[/] there is no Kindred memory at {path}: chat first "
                   "(`kindred chat`), or point --data-dir at the folder that holds it.")
        raise typer.Exit(1)
    return path


def _known_or_exit(bot, user: str) -> None:
    if bot.known_user(user):
        return
    users = bot.users()
    listed = ", ".join(users[:20]) + (f" and {len(users) - 20} more" if len(users) > 20 else "")
    _err.print(f"[bold red]error:[/] Kindred has no memory of user {user!r}. "
               + (f"Known users: {listed}." if users else "It holds no user yet."))
    raise typer.Exit(1)


@_memory_app.command("show")
def _memory_show(user: str = _USER, data_dir: Path | None = _DATA) -> None:
    """Show what Kindred remembers about a user (exit 1 for an unknown user)."""
    from agent.chat_loop import ChatLoop

    path = _existing(data_dir)
    try:
        with _open(path, "fake") as bot:
            _known_or_exit(bot, user)
            loop = ChatLoop(bot, user, _console)
            loop.handle("/memory")
            loop.handle("/persona")
    except KindredError as exc:
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None


@_memory_app.command("forget")
def _memory_forget(user: str = typer.Option(..., "--user", "-u"), data_dir: Path | None = _DATA,
                   yes: bool = typer.Option(False, "--yes", help="do not ask to confirm")) -> None:
    """Delete every trace of a user from every store."""
    path = _existing(data_dir)
    if not yes and not typer.confirm(f"Forget everything about {user}?"):
        _console.print("Nothing was removed.")
        return
    try:
        with _open(path, "fake") as bot:
            held = bot.forget(user)
    except KindredError as exc:
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    _console.print(f"Forgot {user}." if held else f"Nothing was stored for {user}.")


@_memory_app.command("export")
def _memory_export(user: str = typer.Option(..., "--user", "-u"), data_dir: Path | None = _DATA,
                   out: Path | None = typer.Option(None, "--out", "-o",
                                                   help="file to write (default: stdout)")) -> None:
    """Write everything Kindred holds about a user as one JSON document (`memory schema`)."""
    import json

    path = _existing(data_dir)
    try:
        with _open(path, "fake") as bot:
            _known_or_exit(bot, user)
            text = json.dumps(bot.export_user(user).model_dump(mode="json", by_alias=True),
                              ensure_ascii=False, indent=1)
    except KindredError as exc:
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    if out is None:
        print(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        _err.print(f"Wrote {user}'s memory to {out}.")


@_memory_app.command("import")
def _memory_import(file: Path = typer.Argument(..., help="a document `memory export` wrote"),
                   user: str | None = typer.Option(None, "--user", "-u",
                                                   help="import under this id (default: the "
                                                        "document's user)"),
                   data_dir: Path | None = _DATA,
                   replace: bool = typer.Option(False, "--replace",
                                                help="forget the user's memory here first")) -> None:
    """Restore a user from an export (into this or another data dir)."""
    import json

    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        _err.print(f"[bold red]error:[/] cannot read {file} as JSON: {exc}")
        raise typer.Exit(2) from None
    target = user or (document.get("user") if isinstance(document, dict) else None)
    try:
        with _open(data_dir, "fake") as bot:
            count = bot.import_user(target or "", document, replace=replace)
    except KindredError as exc:
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    _console.print(f"Imported {count} records for {target}.")


@_memory_app.command("reencode")
def _memory_reencode(embedder: str = typer.Option(..., "--embedder", "-e",
                                                  help="onnx | onnx-int8 | torch"),
                     data_dir: Path | None = _DATA) -> None:
    """Make every vector of a data dir again with another embedder, in place (stop the other
    processes on it first). Safe to interrupt: run it again to finish."""
    from rich.progress import Progress

    from agent.reencode import reencode
    from agent.settings import Settings

    path = _existing(data_dir)
    try:
        settings = Settings(data_dir=path)
        with Progress(console=_err, transient=True) as bar:
            task = bar.add_task("encoding every user's memory", total=None)
            done = reencode(settings, embedder,
                            lambda n, total: bar.update(task, completed=n, total=total))
    except KindredError as exc:
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    made = sum(done.repair.vectors_added.values())
    _console.print(f"{made} vectors made by {done.after} (they were made by "
                   f"{done.before or 'no embedder yet'}); open it with KINDRED_EMBEDDER=auto "
                   "(the default) or " + _setting_for(done.after) + ".")


def _setting_for(name: str) -> str:
    from memory.embeddings import BACKEND_OF_NAME

    return f"KINDRED_EMBEDDER={BACKEND_OF_NAME.get(name, name)}"


@_memory_app.command("schema")
def _memory_schema() -> None:
    """Print the JSON Schema of the export document (docs/export.schema.json)."""
    import json

    from agent.transfer import export_schema

    print(json.dumps(export_schema(), indent=2))


def _add_plugins() -> None:
    """Attach the sub-apps registered under ``kindred.cli``; a missing one gets a stub that
    names its install command."""
    found = set()
    for point in entry_points(group="kindred.cli"):
        try:
            sub = point.load()
        except ImportError as exc:
            _missing_plugin(point.name, f"{exc}")
        else:
            app.add_typer(sub, name=point.name)
        found.add(point.name)
    for name in _PLUGIN_HINTS.keys() - found:
        _missing_plugin(name, "it is not installed")


def _missing_plugin(name: str, why: str) -> None:
    hint = _PLUGIN_HINTS.get(name, f"install the package that provides `kindred {name}`")

    @app.command(name, context_settings={"allow_extra_args": True,
                                         "ignore_unknown_options": True},
                 help=f"(not available: {hint})")
    def _stub() -> None:
        _err.print(f"[bold red]error:[/] `kindred {name}` is not available ({why}): {hint}.")
        raise typer.Exit(2)


_add_plugins()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
