"""``check_persona``: keep the agent in character. The reply's own trait is checked against the
agent's card and established traits, and a reply that claims one of the user's facts for the agent
("I work as a nurse." after the user said so: the small local model speaking as the user) is a
contradiction too; on a contradiction the reply is regenerated once.

Why once: a second contradiction means the model cannot hold the persona for this request; looping
would only cost time. The trace says what was found and whether the reply was regenerated, and the
trait extracted here is handed to ``write_back`` so it is not extracted twice.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graphs import prompts
from graphs.nodes.generate import draft_reply
from graphs.services import Services
from graphs.state import TurnContext, TurnState
from graphs.trace import ChatMessage, PersonaCheck
from memory.embeddings import prefetch
from memory.turns import TurnIndex
from personas.consistency import find_contradiction, read_reply_trait

__all__ = ["make_check_persona"]


def make_check_persona(services: Services):
    cfg = services.config.personas

    def contradiction(trait, reply: str, facts: list[str], user_name: str):
        """What ``reply`` contradicts: a name it gives the agent (the user's too), or its trait
        against ``facts``."""
        return find_contradiction(trait.text if trait else "", facts if trait else [],
                                  services.memory.embedder, agent_name=services.card.name,
                                  reply=reply, user_name=user_name, config=cfg.consistency)

    def reply_trait(text: str, state: TurnState, user_name: str):
        """The reply's trait when it is one of the agent's own, and the user's fact it claims
        for the agent when it speaks as the user (see ``read_reply_trait``)."""
        trait = services.agent_extractor.extract(text) if text else None
        if trait is None:
            return None, None
        own, claimed = read_reply_trait(trait.text, state.get("user_traits") or [],
                                        services.memory.embedder, user_name=user_name,
                                        said=text, config=cfg.consistency)
        return (trait if own else None), claimed

    def note_for(found, user_name: str) -> str:
        if found.reason == "the user's fact":
            return prompts.PERSONA_AS_USER.format(trait=found.trait, fact=found.fact,
                                                  user_name=user_name,
                                                  agent_name=services.card.name)
        return prompts.PERSONA_REGENERATE.format(trait=found.trait, fact=found.fact)

    def check_persona(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        reply = state.get("reply") or ""
        if reply and state.get("kind", "turn") == "turn":
            # the key write_back stores the reply under, encoded beside the reply's parse
            prefetch(services.memory.embedder, [TurnIndex.key_of(services.card.name, reply)])
        if not cfg.enabled or not reply:
            return {"agent_trait": None}
        facts = list(state.get("agent_traits") or [])
        user = runtime.context.user_id
        trait, claimed = reply_trait(reply, state, user)
        if not cfg.check:
            return {"agent_trait": trait}
        found = claimed or contradiction(trait, reply, facts, user)
        check = PersonaCheck(trait=trait.text if trait else None)
        if found is None:
            return {"agent_trait": trait,
                    "trace": state["trace"].model_copy(update={"persona_check": check})}
        note: ChatMessage = {"role": "system", "content": note_for(found, user)}
        messages = [*state.get("messages", []), note]
        text, finished = draft_reply(services, messages, dict(runtime.context.sampling))
        retry, claimed_again = reply_trait(text, state, user)
        still = claimed_again or contradiction(retry, text, facts, user)
        check = check.model_copy(update={"contradiction": found.as_dict(), "regenerated": True,
                                         "first_reply": reply,
                                         "still_inconsistent": still is not None})
        # a reply that still contradicts is kept (the user gets an answer) but its trait is not
        # stored: the agent's bank must not learn the drift
        return {"reply": text or reply, "messages": messages,
                "trace": state["trace"].model_copy(update={
                    "persona_check": check, "messages": messages,
                    "finish_reason": finished if text
                    else state["trace"].finish_reason}),
                "agent_trait": None if still else retry}

    return check_persona
