"""The terminal chat: streamed replies, slash commands, rich formatting.

Every command maps onto a public method of :class:`agent.Kindred`, so the terminal shows exactly
what the Python API would give a developer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from agent.kindred import Kindred
from agent.reply import Reply, Retraction
from agent.validation import for_terminal
from memory.errors import KindredError

__all__ = ["HELP", "ChatLoop", "plural"]

_KEEP_TRACES = 10

HELP = """Commands:
  /feedback TEXT  correct my last reply (I will remember the correction)
  /memory         what I remember about you
  /persona        what I know about you (traits), with ids
  /persona edit ID TEXT   correct a trait (the old wording stays in its history)
  /persona delete ID      delete a trait for good
  /why [N]        why I said what I said N replies ago (default 1: the last; what was
                  retrieved, the scores, the prompt, a withdrawn draft)
  /end            end this session (it becomes a long-term memory now)
  /conversations  your conversations (each has its own sessions; all share what I know)
  /conversations new [TITLE]     start a new conversation and switch to it
  /conversations switch ID       carry on another conversation
  /conversations rename ID TITLE / delete ID
  /forget         forget everything about you (asks to confirm)
  /help           this list
  /quit           leave (your memory is kept)"""


def _show(text: str) -> str:
    """Stored or generated text as the terminal may show it: no markup, no control characters."""
    return escape(for_terminal(text))


def plural(n: int, word: str) -> str:
    """"1 correction", "2 corrections", "2 replies"."""
    if n == 1:
        return f"{n} {word}"
    return f"{n} {word[:-1]}ies" if word.endswith("y") and word[-2] not in "aeiou" else f"{n} {word}s"


def _when(ts: float | None) -> str:
    if ts is None:
        return "?"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


class ChatLoop:
    """A read-eval-print loop over one user's conversation."""

    def __init__(self, bot: Kindred, user_id: str, console: Console | None = None, *,
                 conversation: str = "default") -> None:
        self.bot, self.user_id, self.conversation = bot, user_id, conversation
        self.console = console or Console(highlight=False)
        self.replies: deque[Reply] = deque(maxlen=_KEEP_TRACES)
        self._commands: dict[str, Callable[[str], bool]] = {
            "/help": self._help, "/quit": self._quit, "/exit": self._quit,
            "/feedback": self._feedback, "/memory": self._memory, "/persona": self._persona,
            "/why": self._why, "/end": self._end, "/forget": self._forget,
            "/conversations": self._conversations, "/conversation": self._conversations}

    def run(self) -> None:
        c = self.console
        where = ("" if self.conversation == "default"
                 else f" (conversation {_show(self.conversation)})")
        c.print(f"[bold]Kindred[/] is listening, {_show(self.user_id)}{where}. "
                "Type [bold]/help[/] for commands, [bold]/quit[/] to leave.")
        while True:
            try:
                line = c.input(f"[bold cyan]{_show(self.user_id)} ›[/] ")
            except (EOFError, KeyboardInterrupt):
                c.print()
                break
            if not line.strip():
                continue
            try:
                if not self.handle(line.strip()):
                    break
            except KindredError as exc:
                c.print(f"[bold red]error:[/] {_show(str(exc))}")
        c.print("[dim]Bye. Your memory is kept.[/]")

    def handle(self, line: str) -> bool:
        """Handle one line; False means leave the loop."""
        if line.startswith("/"):
            command, _, rest = line.partition(" ")
            action = self._commands.get(command.lower())
            if action is None:
                self.console.print(f"[yellow]Unknown command {_show(command)}.[/] Try /help.")
                return True
            return action(rest.strip())
        self._say(line)
        return True

    def _say(self, text: str) -> None:
        out = self.console.file
        self.console.print(f"[bold magenta]{_show(self.bot.agent_name)} ›[/] ", end="")
        for item in self.bot.stream(self.user_id, text, conversation=self.conversation):
            if isinstance(item, Reply):
                self.replies.append(item)
            elif isinstance(item, Retraction):
                # the draft stays on screen (a terminal cannot unprint); say it was withdrawn
                self.console.print()
                why = {"persona_check": "it contradicted who I am, or spoke as you",
                       "repeat": "it repeated what was said before",
                       "prompt_leak": "it copied my instructions"}.get(item.reason, item.reason)
                self.console.print(f"[dim](withdrawn: {why}; /why says more)[/]")
                self.console.print(f"[bold magenta]{_show(self.bot.agent_name)} ›[/] ",
                                   end="")
            else:
                out.write(for_terminal(item))
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
        receipt = self.bot.feedback(self.user_id, text, conversation=self.conversation)
        said = _show(receipt.feedback)
        end = "" if said.rstrip()[-1:] in (".", "!", "?", "…") else "."  # not “…fish.”.
        self.console.print(f"[green]Noted.[/] Next time you ask something like "
                           f"“{_show(receipt.request)}”, I will keep in mind: “{said}”{end}")
        if receipt.trait:
            self.console.print(f"[green]Also noted about you:[/] {_show(receipt.trait)}")
        return True

    def _memory(self, _: str) -> bool:
        if not self.bot.known_user(self.user_id):
            self.console.print("I don't remember anything about you yet.")
            return True
        view = self.bot.memories(self.user_id, conversation=self.conversation)
        table = Table(title=f"Past sessions of {self.user_id}", show_lines=False)
        table.add_column("when")
        table.add_column("session")
        table.add_column("summary")
        table.add_column("topics")
        for ev in view.events:
            table.add_row(_when(ev.ts), ev.session_id, _show(ev.summary),
                          ", ".join(ev.topics[:6]))
        self.console.print(table if view.events else "No past sessions yet.")
        current = view.session_id or "none open"
        self.console.print(f"This session ({current}): {plural(len(view.session_turns), 'turn')}; "
                           f"{plural(view.turn_count, 'turn')} stored in all; "
                           f"{plural(len(view.feedback), 'correction')} remembered.")
        for fb in view.feedback:
            self.console.print(f"  correction for “{_show(fb.request)}”: "
                               f"{_show(fb.feedback)}")
        return True

    def _persona(self, rest: str) -> bool:
        action, _, args = rest.partition(" ")
        if action in ("edit", "delete"):
            return self._persona_change(action, args.strip())
        if action:
            self.console.print("[yellow]Usage:[/] /persona, /persona edit ID TEXT, "
                               "/persona delete ID")
            return True
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
            status = ("current" if t.status == "active" else f"taken back {_when(t.valid_to)}"
                      if t.status == "retracted" else f"until {_when(t.valid_to)}")
            table.add_row(t.id[:11], _show(t.text), t.subject, str(t.count), t.tier, status)
        # short ids are unique prefixes of the full ones: /persona edit and delete take them
        self.console.print(table)
        return True

    def _persona_change(self, action: str, args: str) -> bool:
        ref, _, text = args.partition(" ")
        if not ref or (action == "edit" and not text.strip()):
            self.console.print(f"[yellow]Usage:[/] /persona {action} ID"
                               + (" TEXT" if action == "edit" else "") + " (ids: /persona)")
            return True
        if action == "edit":
            fixed = self.bot.correct_trait(self.user_id, ref, text.strip())
            self.console.print(f"[green]Corrected:[/] {_show(fixed.text)} [dim]({fixed.id[:11]})[/]")
        else:
            self.bot.delete_trait(self.user_id, ref)
            self.console.print(f"[green]Deleted[/] {_show(ref)}.")
        return True

    def _why(self, rest: str) -> bool:
        back = rest.strip() or "1"
        if not back.isdigit() or int(back) < 1:
            self.console.print("[yellow]Usage:[/] /why [N] (N replies ago; 1 is the last)")
            return True
        if not self.replies:
            self.console.print("Nothing to explain yet: say something first.")
            return True
        if int(back) > len(self.replies):
            self.console.print(f"I keep the last {plural(len(self.replies), 'reply')} of this "
                               f"chat; /why {len(self.replies)} is the oldest.")
            return True
        reply = self.replies[-int(back)]
        self.console.print(_show(reply.trace.explain()))
        for draft in (reply.trace.reply_review, reply.trace.persona_check):
            if draft is not None and draft.first_reply:
                self.console.print(f"[dim]Withdrawn draft:[/] {_show(draft.first_reply)}")
        self.console.print("[dim]Prompt sent to the model:[/]")
        for m in reply.trace.messages:
            self.console.print(f"[bold]{m['role']}[/]: {_show(m['content'])}")
        return True

    def _end(self, _: str) -> bool:
        event = self.bot.end_session(self.user_id, conversation=self.conversation)
        if event is None:
            self.console.print("There was nothing in this session to remember.")
        else:
            self.console.print(f"[green]Session ended and remembered:[/] {_show(event.summary)}")
        return True

    def _conversations(self, rest: str) -> bool:
        action, _, args = rest.partition(" ")
        args = args.strip()
        if action == "new":
            made = self.bot.create_conversation(self.user_id, args or None)
            self.conversation = made.id
            self.replies.clear()
            self.console.print(f"[green]Started[/] {_show(made.title)} [dim]({made.id})[/]; "
                               "I still know what you told me elsewhere.")
        elif action == "switch" and args:
            self.bot.conversations.require(self._scope(), args)
            self.conversation = args
            self.replies.clear()
            self.console.print(f"[green]Now in[/] {_show(args)}.")
        elif action == "rename" and " " in args:
            ref, title = args.split(" ", 1)
            self.bot.rename_conversation(self.user_id, ref, title.strip())
            self.console.print(f"[green]Renamed[/] {_show(ref)}.")
        elif action == "delete" and args:
            self.bot.delete_conversation(self.user_id, args)
            if args == self.conversation:
                self.conversation = "default"
            self.console.print(f"[green]Deleted[/] {_show(args)} (what I learnt about you "
                               "stays; /forget removes everything).")
        elif action:
            self.console.print("[yellow]Usage:[/] /conversations [new TITLE | switch ID | "
                               "rename ID TITLE | delete ID]")
        else:
            table = Table(title=f"Conversations of {self.user_id}")
            for col in ("", "id", "title", "last message"):
                table.add_column(col)
            found = self.bot.list_conversations(self.user_id)
            if not any(c.id == self.conversation for c in found):
                self.console.print(f"This conversation ({_show(self.conversation)}) has no "
                                   "messages yet.")
            for c in found:
                table.add_row("›" if c.id == self.conversation else "", c.id, _show(c.title),
                              _when(c.updated_at))
            if found:
                self.console.print(table)
        return True

    def _scope(self):
        from agent.validation import check_scope

        return check_scope(self.user_id)

    def _forget(self, _: str) -> bool:
        answer = self.console.input(f"Type [bold]yes[/] to forget everything about "
                                    f"{_show(self.user_id)}: ")
        if answer.strip().lower() == "yes":
            self.bot.forget(self.user_id)
            self.replies.clear()
            self.conversation = "default"
            self.console.print("[green]Done: I have forgotten everything about you.[/]")
        else:
            self.console.print("Nothing was forgotten.")
        return True
