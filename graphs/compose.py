"""Assembling the generation prompt from the retrieved memory, within a token budget.

LD-Agent's order: the agent's role and traits; the recent conversation (CONTEXT); the retrieved
events (MEMORY); the user's traits (USER_TRAITS); the user's new utterance. With chat models the
context travels as chat turns, the memory sections in the system message. The memory sections share
one tiktoken budget: feedback first (it was given on purpose), then memories by score, then traits
(long-term tier and most-mentioned first); what does not fit is left out, never cut mid-sentence.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from graphs import prompts
from graphs.trace import ChatMessage, FeedbackUsed
from memory.budget import TokenCounter, fit_to_budget
from memory.types import RetrievedMemory, Turn

__all__ = ["build_messages", "memory_lines"]


def memory_lines(retrieved: Sequence[RetrievedMemory], *, dated: bool = False) -> list[str]:
    """One line per retrieved memory, as LD-Agent shows them: "<age>, <summary>", with who said
    a turn. ``dated``: the calendar date instead of the age, for questions that ask "when" (LoCoMo
    QA asks for dates; a model should not have to subtract "102 days ago" from an unstated now)."""
    lines = []
    for m in retrieved:
        when = _date(m.ts) if dated and m.ts is not None else m.age
        if m.kind == "event":
            lines.append(f"- {when}, {m.text}")
        else:
            who = f"{m.speaker} said" if m.speaker else "it was said"
            lines.append(f"- {when}, {who}: \"{m.text}\"")
    return lines


def _date(ts: float) -> str:
    """"On Monday 8 May 2023" (UTC: replayed dialogues carry their own clock)."""
    day = time.gmtime(ts)
    return f"On {time.strftime('%A', day)} {day.tm_mday} {time.strftime('%B %Y', day)}"


def build_messages(*, agent_name: str, voice: str, agent_traits: Sequence[str], user_name: str,
                   retrieved: Sequence[RetrievedMemory], user_traits: Sequence[str],
                   feedback: FeedbackUsed | None, context: Sequence[Turn],
                   text: str, max_words: int, budget: int, counter: TokenCounter
                   ) -> tuple[list[ChatMessage], dict[str, int]]:
    """The exact messages for the chat model, and what the budget kept and dropped."""
    used = 0
    sections: list[str] = []
    if feedback:
        fb = prompts.SECTION_FEEDBACK.format(user_name=user_name, request=feedback.request,
                                             feedback=feedback.feedback)
        used += counter.count(fb)
        sections.append(fb)
    mem_all = memory_lines(retrieved)
    mem_kept, mem_used = fit_to_budget(mem_all, max(budget - used, 0) * 2 // 3, counter)
    used += mem_used
    sections.append(prompts.SECTION_MEMORY.format(items="\n".join(mem_kept)) if mem_kept
                    else prompts.NO_MEMORY)
    traits_kept, traits_used = fit_to_budget([f"- {t}" for t in user_traits],
                                             max(budget - used, 0), counter)
    used += traits_used
    if traits_kept:
        sections.append(prompts.SECTION_USER_TRAITS.format(user_name=user_name,
                                                           items="\n".join(traits_kept)))
    system = prompts.SYSTEM.format(
        agent_name=agent_name, voice=voice, user_name=user_name, max_words=max_words,
        agent_traits="\n".join(f"- {t}" for t in agent_traits) or "- (none yet)",
        sections="\n\n".join(sections))
    messages: list[ChatMessage] = [{"role": "system", "content": system}]
    for turn in context:
        messages.append({"role": "user" if turn.role == "user" else "assistant",
                         "content": turn.text})
    user_text = (prompts.CLARIFIED_REQUEST.format(request=text, feedback=feedback.feedback)
                 if feedback else text)
    messages.append({"role": "user", "content": user_text})
    budget_report = {"budget": budget, "used": used,
                     "memories_kept": len(mem_kept), "memories_dropped": len(mem_all) - len(mem_kept),
                     "traits_kept": len(traits_kept),
                     "traits_dropped": len(user_traits) - len(traits_kept)}
    return messages, budget_report
