"""``generate``: the reply, from the composed prompt, by any langchain-core chat model.

The model is called with ``invoke``; when the graph is streamed in ``messages`` mode, LangGraph's
callback makes langchain-core stream the tokens, so the API and the terminal show them as they come.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from graphs.compose import build_messages
from graphs.prompts import PROMPTS_VERSION
from graphs.services import Services
from graphs.state import TurnContext, TurnState, stm_of
from graphs.trace import ChatMessage
from memory.errors import ModelUnavailableError
from memory.short_term import window
from memory.types import Turn

__all__ = ["draft_reply", "finish_reason", "make_generate", "to_langchain"]

_ROLE = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}


def to_langchain(messages: list[ChatMessage]):
    """Our plain message dicts as langchain-core message objects."""
    return [_ROLE[m["role"]](content=m["content"]) for m in messages]


# what the providers call a reply cut by the token limit: OpenAI and llama.cpp "length",
# Ollama's done_reason "length", Anthropic's stop_reason "max_tokens", Gemini "MAX_TOKENS"
_CUT = frozenset({"length", "max_tokens", "max_output_tokens"})


def finish_reason(message: Any) -> str:
    """Why a chat model's reply ended, as OpenAI's API says it: "length" when the token limit
    cut it, else "stop". Read from the message's ``response_metadata``, where langchain-core's
    integrations put the provider's own word (a model that says nothing: "stop").

    Why: the OpenAI-compatible endpoint said "stop" for every reply, also one cut at the
    client's ``max_tokens``; a client that continues cut replies (or warns) never knew."""
    meta = getattr(message, "response_metadata", None) or {}
    said = meta.get("finish_reason") or meta.get("done_reason") or meta.get("stop_reason") or ""
    return "length" if str(said).lower() in _CUT else "stop"


def draft_reply(services: Services, messages: list[ChatMessage], sampling: dict[str, Any]
                ) -> tuple[str, str]:
    """One call of the chat model on ``messages`` with the client's ``sampling``: the reply's
    text, stripped, and why it ended (:func:`finish_reason`). The reply, and its regenerations
    in ``review`` and ``check_persona``, are all drafted so."""
    answer = services.chat_model.invoke(to_langchain(messages), **sampling)
    return str(answer.content).strip(), finish_reason(answer)


def make_generate(services: Services):
    cfg, card = services.config, services.card

    def generate(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        found = state.get("recall")
        run = runtime.context
        held = stm_of(state) if run.history is None else [
            Turn(id=f"client/{n}", session_id="", idx=n, role=role, speaker=role, text=text,
                 ts=run.now) for n, (role, text) in enumerate(run.history)]
        context = window(held, cfg.session.stm_window)
        messages, budget = build_messages(
            agent_name=card.name, voice=card.voice, agent_traits=state.get("agent_traits") or [],
            user_name=runtime.context.user_id, retrieved=found.memories if found else [],
            user_traits=state.get("user_traits") or [],
            feedback=found.feedback if found else None,
            context=context, text=state["text"], instructions=run.instructions,
            max_words=cfg.generation.reply_max_words,
            budget=cfg.generation.memory_token_budget, counter=services.memory.tokens,
            memory_at=cfg.generation.memory_at)
        text, finished = draft_reply(services, messages, dict(run.sampling))
        if not text:
            raise ModelUnavailableError("The chat model returned an empty reply; the turn was not "
                                        "stored. Send the message again, or choose another model.")
        trace = state["trace"].model_copy(update={"messages": messages, "budget": budget,
                                                  "prompts_version": PROMPTS_VERSION,
                                                  "finish_reason": finished})
        return {"messages": messages, "reply": text, "trace": trace}

    return generate
