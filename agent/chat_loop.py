"""The terminal chat: streamed replies, slash commands, rich formatting.

Every command maps onto a public method of :class:`agent.Kindred`, so the terminal shows exactly
what the Python API would give a developer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agent.kindred import Kindred
from agent.reply import Reply, Retraction
from memory.errors import KindredError

__all__ = ["HELP", "ChatLoop"]

HELP = """Commands:
  /feedback TEXT  correct my last reply (I will remember the correction)
  /memory         what I remember about you
  /persona        what I know about you (traits), with ids
  /why            why I said what I said (what was retrieved, the scores, the prompt)
  /end            end this session (it becomes a long-term memory now)
  /forget         forget everything about you (asks to confirm)
  /help           this list
  /quit           leave (your memory is kept)"""


def _when(ts: float | None) -> str:
    if ts is None:
        return "?"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


class ChatLoop:
    """A read-eval-print loop over one user's conversation."""

    def __init__(self, bot: Kindred, user_id: str, console: Console | None = None) -> None:
        self.bot, self.user_id = bot, user_id
        self.console = console or Console(highlight=False)
        self.last: Reply | None = None
        self._commands: dict[str, Callable[[str], bool]] = {
            "/help": self._help, "/quit": self._quit, "/exit": self._quit,
            "/feedback": self._feedback, "/memory": self._memory, "/persona": self._persona,
            "/why": self._why, "/end": self._end, "/forget": self._forget}

    def run(self) -> None:
        c = self.console
        c.print(f"[bold]Kindred[/] is listening, {escape(self.user_id)}. "
                "Type [bold]/help[/] for commands, [bold]/quit[/] to leave.")
        while True:
            try:
                line = c.input(f"[bold cyan]{escape(self.user_id)} ›[/] ")
            except (EOFError, KeyboardInterrupt):
                c.print()
                break
            if not line.strip():
                continue
            try:
                if not self.handle(line.strip()):
                    break
            except KindredError as exc:
                c.print(f"[bold red]error:[/] {escape(str(exc))}")
        c.print("[dim]Bye. Your memory is kept.[/]")

    def handle(self, line: str) -> bool:
        """Handle one line; False means leave the loop."""
        if line.startswith("/"):
            command, _, rest = line.partition(" ")
            action = self._commands.get(command.lower())
            if action is None:
                self.console.print(f"[yellow]Unknown command {escape(command)}.[/] Try /help.")
                return True
            return action(rest.strip())
        self._say(line)
        return True

    def _say(self, text: str) -> None:
        out = self.console.file
        self.console.print(f"[bold magenta]{escape(self.bot.agent_name)} ›[/] ", end="")
        for item in self.bot.stream(self.user_id, text):
            if isinstance(item, Reply):
                self.last = item
            elif isinstance(item, Retraction):
                # the draft stays on screen (a terminal cannot unprint); say it was withdrawn
                self.console.print()
                self.console.print("[dim](withdrawn: it contradicted who I am; /why says how)[/]")
                self.console.print(f"[bold magenta]{escape(self.bot.agent_name)} ›[/] ",
                                   end="")
            else:
                out.write(item)
                out.flush()
        self.console.print()

    def _help(self, _: str) -> bool:
        self.console.print(HELP)
        return True

    def _quit(self, _: str) -> bool:
        return False

    def _feedback(self, text: str) -> bool:
        if not text:
            self.console.print("[yellow]Usage: /feedback TEXT[/] (what I got wrong)")
            return True
        receipt = self.bot.feedback(self.user_id, text)
        self.console.print(f"[green]Noted.[/] Next time you ask something like "
                           f"“{escape(receipt.request)}”, I will keep in mind: "
                           f"“{escape(receipt.feedback)}”.")
        if receipt.trait:
            self.console.print(f"[green]Also noted about you:[/] {escape(receipt.trait)}")
        return True

    def _memory(self, _: str) -> bool:
        if not self.bot.known_user(self.user_id):
            self.console.print("I don't remember anything about you yet.")
            return True
        view = self.bot.memories(self.user_id)
        table = Table(title=f"Past sessions of {self.user_id}", show_lines=False)
        table.add_column("when")
        table.add_column("session")
        table.add_column("summary")
        table.add_column("topics")
        for ev in view.events:
            table.add_row(_when(ev.ts), ev.session_id, escape(ev.summary),
                          ", ".join(ev.topics[:6]))
        self.console.print(table if view.events else "No past sessions yet.")
        current = view.session_id or "none open"
        self.console.print(f"This session ({current}): {len(view.session_turns)} turns; "
                           f"{view.turn_count} turns stored in all; "
                           f"{len(view.feedback)} corrections remembered.")
        for fb in view.feedback:
            self.console.print(f"  correction for “{escape(fb.request)}”: "
                               f"{escape(fb.feedback)}")
        return True

    def _persona(self, _: str) -> bool:
        if not self.bot.known_user(self.user_id):
            self.console.print("I don't know anything about you yet.")
            return True
        traits = self.bot.persona(self.user_id, include_history=True)
        if not traits:
            self.console.print("No traits yet.")
            return True
        table = Table(title=f"What I know about {self.user_id}")
        for col in ("id", "trait", "subject", "seen", "tier", "status"):
            table.add_column(col)
        for t in traits:
            status = "current" if t.status == "active" else f"until {_when(t.valid_to)}"
            table.add_row(t.id[:11], escape(t.text), t.subject, str(t.count), t.tier, status)
        self.console.print(table)
        return True

    def _why(self, _: str) -> bool:
        if self.last is None:
            self.console.print("Nothing to explain yet: say something first.")
            return True
        self.console.print(escape(self.last.trace.explain()))
        self.console.print("[dim]Prompt sent to the model:[/]")
        for m in self.last.trace.messages:
            self.console.print(f"[bold]{m['role']}[/]: {escape(m['content'])}")
        return True

    def _end(self, _: str) -> bool:
        event = self.bot.end_session(self.user_id)
        if event is None:
            self.console.print("There was nothing in this session to remember.")
        else:
            self.console.print(f"[green]Session ended and remembered:[/] {escape(event.summary)}")
        return True

    def _forget(self, _: str) -> bool:
        answer = self.console.input(f"Type [bold]yes[/] to forget everything about "
                                    f"{escape(self.user_id)}: ")
        if answer.strip().lower() == "yes":
            self.bot.forget(self.user_id)
            self.last = None
            self.console.print("[green]Done: I have forgotten everything about you.[/]")
        else:
            self.console.print("Nothing was forgotten.")
        return True
