"""``kindred``: the command line (chat, graph, memory; evaluations join here as they land)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from memory import _env  # noqa: F401  (offline defaults and OMP_WAIT_POLICY before torch)
from memory.errors import KindredError

__all__ = ["app", "main"]

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Kindred: a dialogue agent that remembers the people it talks to.")
memory_app = typer.Typer(no_args_is_help=True, help="Inspect or delete what Kindred remembers.")
app.add_typer(memory_app, name="memory")

_console = Console(highlight=False)
_err = Console(stderr=True, highlight=False)

_USER = typer.Option("me", "--user", "-u", help="who you are (your memory is kept under this id)")
_MODEL = typer.Option(None, "--model", "-m",
                      help="local | fake | openai:<model> | ollama:<model> (default: settings)")
_DATA = typer.Option(None, "--data-dir", "-d", help="where memory is stored (default ~/.kindred)")
_PERSONA = typer.Option(None, "--persona", help="agent persona card: a name or a YAML path")


def _open(data_dir: Path | None, model: str | None, persona: str | None = None):
    from agent.kindred import Kindred

    overrides = {k: v for k, v in {"data_dir": data_dir, "chat_model": model,
                                   "persona": persona}.items() if v is not None}
    return Kindred(**overrides)


@app.command()
def chat(user: str = _USER, model: str | None = _MODEL, data_dir: Path | None = _DATA,
         persona: str | None = _PERSONA) -> None:
    """Chat in the terminal with an agent that remembers you across sessions."""
    from agent.chat_loop import ChatLoop
    from agent.local_model import LocalChatModel
    from agent.validation import check_user_id

    try:
        check_user_id(user)
        with _console.status("Loading memory (embedder, spaCy, stores)…"):
            bot = _open(data_dir, model, persona)
        if isinstance(bot.chat_model, LocalChatModel):
            with _console.status("Loading the local model (the first run converts its weights, "
                                 "about 30 s)…"):
                bot.chat_model.load()
    except KindredError as exc:
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    with bot:
        ChatLoop(bot, user, _console).run()


@app.command()
def graph() -> None:
    """Print the turn graph as a Mermaid diagram."""
    from graphs import draw_mermaid

    print(draw_mermaid())


@memory_app.command("show")
def memory_show(user: str = _USER, data_dir: Path | None = _DATA) -> None:
    """Show what Kindred remembers about a user."""
    from agent.chat_loop import ChatLoop

    try:
        with _open(data_dir, "fake") as bot:
            loop = ChatLoop(bot, user, _console)
            loop.handle("/memory")
            loop.handle("/persona")
    except KindredError as exc:
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None


@memory_app.command("forget")
def memory_forget(user: str = typer.Option(..., "--user", "-u"), data_dir: Path | None = _DATA,
                  yes: bool = typer.Option(False, "--yes", help="do not ask to confirm")) -> None:
    """Delete every trace of a user from every store."""
    if not yes and not typer.confirm(f"Forget everything about {user}?"):
        raise typer.Exit(1)
    try:
        with _open(data_dir, "fake") as bot:
            held = bot.forget(user)
    except KindredError as exc:
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    _console.print(f"Forgot {user}." if held else f"Nothing was stored for {user}.")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
