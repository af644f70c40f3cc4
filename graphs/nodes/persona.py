"""``extract_persona``: what this utterance says about the user (stored later, at write-back).

The trait is only extracted here, not stored: storing happens in ``write_back`` with the rest of
the turn, so a turn that fails half-way (the model is down) leaves no orphan trait behind.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from graphs.services import Services
from graphs.state import TurnContext, TurnState

__all__ = ["make_extract_persona"]


def make_extract_persona(services: Services):
    def extract_persona(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        trace = dict(state.get("trace") or {})
        if not services.config.use_persona:
            return {"user_trait": None, "pending_traits": [], "trace": trace}
        if state.get("kind") == "observe":
            pending = []
            for pos, utt in enumerate(state.get("batch") or []):
                extractor = (services.user_extractor if utt["role"] == "user"
                             else services.agent_extractor)
                trait = extractor.extract(utt["text"])
                if trait:
                    pending.append({"pos": pos, "owner": utt["role"], "text": trait.text,
                                    "subject": trait.subject})
            trace["traits_found"] = len(pending)
            return {"user_trait": None, "pending_traits": pending, "trace": trace}
        trait = services.user_extractor.extract(state["text"])
        found = {"text": trait.text, "subject": trait.subject} if trait else None
        trace["user_trait"] = found
        pending = [{"pos": 0, "owner": "user", **found}] if found else []
        return {"user_trait": found, "pending_traits": pending, "trace": trace}

    return extract_persona
