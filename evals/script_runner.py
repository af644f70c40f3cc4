"""Run evaluation scripts against a fresh Kindred and record every expectation's outcome.

Each script gets its own data directory, so scripts never see each other's memory. Times come from
the script; with the fake model (whose replies the script may fix) a run is repeatable bit for bit:
the results hold no ids, no wall-clock times, only what the script asked and what Kindred did.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import HumanMessage

from evals.script import Expectation, Script, parse_gap
from agent.models import FAKE_REPLIES
from agent.reply import Reply, Utterance
from graphs import prompts
from graphs.reply_review import echoes, instruction_text, leaked_sentences, repeats
from memory.errors import InvalidInputError

__all__ = ["Outcome", "reply_stats", "run_script"]


@dataclass(frozen=True)
class Outcome:
    """One expectation of one step: passed (True/False) or skipped (None, with the reason)."""

    step: int
    line: int
    step_kind: str
    user: str
    kind: str
    expected: Any
    passed: bool | None
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _contains(haystack: list[str], needle: str) -> tuple[bool, str]:
    low = needle.lower()
    hit = next((h for h in haystack if low in h.lower()), None)
    return hit is not None, (f"found in: {hit[:120]!r}" if hit else
                             f"not in {len(haystack)} item(s)")


def _memory_texts(bot, user: str) -> list[str]:
    if not bot.known_user(user):
        return []
    view = bot.memories(user)
    texts = [t.text for t in view.session_turns] + [t.text for t in bot.memory.turns.list(user)]
    texts += [e.summary for e in view.events]
    texts += [t.text for t in bot.persona(user, "user")]
    texts += [f"{f['request']} {f['feedback']}" for f in view.feedback]
    return texts


def _persona_texts(bot, user: str) -> list[str]:
    return [t.text for t in bot.persona(user, "user")] if bot.known_user(user) else []


def _judge(judge: BaseChatModel | None, rubric: str, request: str, reply: str
           ) -> tuple[bool | None, str]:
    if judge is None:
        return None, "skipped: no judge model (pass --judge NAME)"
    answer = str(judge.invoke([HumanMessage(prompts.JUDGE_REPLY.format(
        rubric=rubric, request=request, reply=reply))]).content).strip()
    verdict = answer.upper().lstrip("* ").startswith("YES")
    return verdict, f"judge said: {answer[:120]!r}"


def _check(bot, user: str, exp: Expectation, reply: Reply | None, request: str,
           judge: BaseChatModel | None, canned: bool = False) -> tuple[bool | None, str]:
    kind, value = exp.kind, exp.value
    if kind == "memory_contains":
        return _contains(_memory_texts(bot, user), value)
    if kind == "memory_not_contains":
        found, detail = _contains(_memory_texts(bot, user), value)
        return not found, detail
    if kind == "persona_contains":
        return _contains(_persona_texts(bot, user), value)
    if kind == "persona_not_contains":
        found, detail = _contains(_persona_texts(bot, user), value)
        return not found, detail
    if kind == "known_user":
        known = bot.known_user(user)
        return known == value, f"known_user is {known}"
    if reply is None:  # script validation keeps reply probes on generated turns
        raise InvalidInputError(f"The expectation {kind!r} needs a reply: put it on a `say` step.")
    if kind in ("retrieved_contains", "retrieved_not_contains"):
        recalled = [m.text for m in reply.trace.retrieved]
        if reply.trace.feedback:
            recalled.append(reply.trace.feedback.feedback)
        found, detail = _contains(recalled, value)
        return (found if kind == "retrieved_contains" else not found), detail
    if kind in ("reply_contains", "reply_matches") and canned:
        return None, "skipped: the fake model's canned replies (run with --model local or another)"
    if kind == "reply_contains":
        return value.lower() in reply.text.lower(), f"reply: {reply.text[:120]!r}"
    if kind == "reply_matches":
        return bool(re.search(value, reply.text)), f"reply: {reply.text[:120]!r}"
    return _judge(judge, value, request, reply.text)


def run_script(script: Script, *, make_bot: Callable[[Path, BaseChatModel | None], Any],
               chat_model: BaseChatModel | None = None, judge: BaseChatModel | None = None,
               progress: Callable[[int], Any] | None = None) -> dict[str, Any]:
    """Run ``script`` on a bot from ``make_bot(data_dir, chat_model)``; ``chat_model`` None → the
    fake model with the script's ``replies``. Returns the outcomes and a summary."""
    model = chat_model or FakeListChatModel(responses=list(script.replies or FAKE_REPLIES))
    canned = chat_model is None and not script.replies  # replies nobody wrote for this script
    outcomes: list[Outcome] = []
    replies: list[dict[str, Any]] = []
    now = script.start.timestamp()
    with tempfile.TemporaryDirectory(prefix="kindred-script-") as tmp:
        bot = make_bot(Path(tmp) / "data", model)
        agent = bot.agent_name
        try:
            for i, step in enumerate(script.steps):
                body = step.body
                if body.at is not None:
                    at = body.at if body.at.tzinfo else body.at.replace(tzinfo=script.start.tzinfo)
                    now = at.timestamp()
                elif body.gap is not None:
                    now += parse_gap(body.gap)
                elif i:
                    now += script.turn_gap_s
                reply, request = None, ""
                if step.kind == "say":
                    request = body.text
                    if body.agent is None:
                        reply = bot.chat(body.user, body.text, at=now)
                        replies.append({"step": i, "user": body.user, "text": reply.text,
                                        "session": reply.session_id, "said": body.text})
                    else:
                        bot.ingest(body.user, [
                            Utterance(speaker=body.user, text=body.text, at=now),
                            Utterance(speaker=bot.settings.persona, role="agent", text=body.agent,
                                      at=now + 1)])
                        now += 1
                elif step.kind == "feedback":
                    bot.feedback(body.user, body.text, at=now)
                elif step.kind == "end_session":
                    bot.end_session(body.user, at=now)
                elif step.kind == "forget":
                    bot.forget(body.user)
                for exp in getattr(body, "expect", []):
                    passed, detail = _check(bot, body.user, exp, reply, request, judge, canned)
                    outcomes.append(Outcome(i, script.lines[i] if i < len(script.lines) else 0,
                                            step.kind, body.user, exp.kind, exp.value, passed,
                                            detail))
                if progress:
                    progress(1)
        finally:
            bot.close()
    passed = sum(1 for o in outcomes if o.passed is True)
    failed = sum(1 for o in outcomes if o.passed is False)
    return {"name": script.name, "steps": len(script.steps),
            "expectations": len(outcomes), "passed": passed, "failed": failed,
            "skipped": len(outcomes) - passed - failed,
            "outcomes": [o.as_dict() for o in outcomes], "replies": replies,
            "reply_stats": reply_stats(replies, agent)}


def reply_stats(replies: list[dict[str, Any]], agent_name: str) -> dict[str, int]:
    """How many generated replies repeat an earlier reply of their session, say the user's
    message back (``said``, where a reply has it) and copy the reply prompt's instructions (the
    review rules of :mod:`graphs.reply_review`)."""
    templates = prompts.REPLY_TEMPLATES
    earlier: dict[tuple[str, str], list[str]] = {}
    repeated = echoed = leaked = 0
    for r in replies:
        key = (r["user"], r.get("session", ""))
        repeated += repeats(r["text"], earlier.get(key, [])) is not None
        echoed += echoes(r["text"], r.get("said") or "") is not None
        earlier.setdefault(key, []).append(r["text"])
        leaked += bool(leaked_sentences(r["text"], instruction_text(
            templates, agent_name=agent_name, user_name=r["user"], max_words="60")))
    return {"replies": len(replies), "repeats": repeated, "echoes": echoed, "leaks": leaked}
