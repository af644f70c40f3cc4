"""``review``: the draft reply must not copy the prompt, repeat an earlier reply of the session or
say the user's message back.

Leaked sentences are stripped (the stream is told: the client replaces the draft with the clean
text); when nothing is left, or the reply repeats itself or the user, it is regenerated once with a note that
says what went wrong (:mod:`graphs.reply_review` has the rules and the measured cases). Why once:
as with the persona check, a second miss means the model cannot do better for this prompt; a
retry that repeats too is cut to its sentences not said before (or the draft's), never sent whole.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graphs import prompts
from graphs.nodes.generate import draft_reply
from graphs.reply_review import (echoes, instruction_text, leaked_sentences, repeats, said_before,
                                 statements, strip_leaks, unsaid)
from graphs.services import Services
from graphs.state import TurnContext, TurnState, stm_of
from graphs.trace import ChatMessage, ReplyReview

__all__ = ["make_review"]

_TEMPLATES = prompts.REPLY_TEMPLATES


def make_review(services: Services):
    card, cfg = services.card, services.config.generation
    rules = cfg.review

    def clean(text: str, instructions: str) -> tuple[str, list[str]]:
        leaked = leaked_sentences(text, instructions, rules.leak_words)
        return (strip_leaks(text, leaked) if leaked else text), leaked

    def review(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        draft = state.get("reply") or ""
        if not draft or not rules.enabled:
            return {}
        user = runtime.context.user_id
        instructions = instruction_text(_TEMPLATES, agent_name=card.name, voice=card.voice,
                                        user_name=user, max_words=str(cfg.reply_max_words))
        session = stm_of(state)
        earlier = [t.text for t in session if t.role == "agent"]
        message = state.get("text") or ""
        told = [*dict.fromkeys([*(t.text for t in session if t.role == "user"), message])]
        text, leaked = clean(draft, instructions)
        repeated = repeats(text, earlier, rules.repeat_overlap) if text else None
        # the user's own words said back are a repeat too, this message's or an earlier one's
        # (the 135M model's answer to "I live in Paris." was "I live in Paris."; to "What do you
        # know about me?", "I'm Sam. I live in Porto, Italy.": it spoke as the user)
        echoed = (next((m for m in reversed(told) if echoes(text, m, rules.repeat_overlap)), None)
                  if text and not repeated else None)
        found = ReplyReview(leaked=leaked, repeated=repeated, echoed=echoed)
        if text and not repeated and not echoed:
            # a sentence said before ahead of a new one: the small model's "Sam, I'm glad to hear
            # that." opening every reply, or the user's own statement in its mouth ("I'm sorry
            # for your loss. I can't swim, sadly."): the new part is sent
            said = [*earlier, *statements(told)]
            again = said_before(text, said)
            if again:
                text = unsaid(text, said)
                found = found.model_copy(update={"said_before": again})
            if (leaked or again) and runtime.stream_writer is not None:
                runtime.stream_writer({"revision": text,
                                       "reason": "prompt_leak" if leaked else "repeat"})
            update: dict[str, Any] = {"reply": text}
            if leaked or again:
                update["trace"] = state["trace"].model_copy(update={"reply_review": found})
            return update
        kind = "repeat" if repeated else "echo" if echoed else "leak"
        problem = prompts.REVIEW_PROBLEMS[kind].format(earlier=repeated or echoed or "",
                                                       user_name=user)
        note: ChatMessage = {"role": "system", "content": prompts.REVIEW_REGENERATE.format(
            problem=problem, user_name=user, max_words=cfg.reply_max_words)}
        messages = [*state.get("messages", []), note]
        # a repeat or an echo is regenerated with sampling: decoded greedily, the same prompt
        # gives the same words again (measured with the 135M model: the note alone changed
        # nothing; of a scripted run's three echoes, greedy retries kept all three)
        retry = {"temperature": cfg.retry_temperature} if repeated or echoed else {}
        raw, finished = draft_reply(services, messages, {**dict(runtime.context.sampling), **retry})
        again, more = clean(raw, instructions)
        final = again or text or draft  # the regenerated reply, unless nothing is left of it
        # the retry is reviewed too: told what it had said, the 135M model said it again word
        # for word, and a loop must not reach the user; what either draft said that was new is
        # kept, else an honest line
        said = [*earlier, echoed] if echoed else earlier
        still = bool(again and (repeats(again, earlier, rules.repeat_overlap) or (
            echoed and echoes(again, echoed, rules.repeat_overlap))))
        if still:
            final = unsaid(again, said) or unsaid(text, said) or prompts.REVIEW_FALLBACK
        if final != raw and runtime.stream_writer is not None:
            runtime.stream_writer({"revision": final, "reason": "repeat" if still else "prompt_leak"})
        found = found.model_copy(update={"leaked": [*leaked, *more], "regenerated": True,
                                         "first_reply": draft, "still_repeated": still})
        return {"reply": final, "messages": messages,
                "trace": state["trace"].model_copy(update={
                    "reply_review": found, "messages": messages,
                    "finish_reason": finished if again
                    else state["trace"].finish_reason})}

    return review
