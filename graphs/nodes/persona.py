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
            batch = state.get("batch") or []
            found_at: dict[int, Any] = {}
            for role, extractor in (("user", services.user_extractor),
                                    ("agent", services.agent_extractor)):
                positions = [p for p, utt in enumerate(batch) if utt["role"] == role]
                if not positions:
                    continue
                texts = [batch[p]["text"] for p in positions]
                many = getattr(extractor, "extract_many", None)  # one spaCy pass for the batch
                traits = many(texts) if many else [extractor.extract(t) for t in texts]
                found_at.update(zip(positions, traits, strict=True))
            pending = [{"pos": pos, "owner": batch[pos]["role"], "text": trait.text,
                        "subject": trait.subject}
                       for pos, trait in sorted(found_at.items()) if trait]
            trace["traits_found"] = len(pending)
            return {"user_trait": None, "pending_traits": pending, "trace": trace}
        trait = services.user_extractor.extract(state["text"])
        found = {"text": trait.text, "subject": trait.subject} if trait else None
        trace["user_trait"] = found
        pending = [{"pos": 0, "owner": "user", **found}] if found else []
        return {"user_trait": found, "pending_traits": pending, "trace": trace}

    return extract_persona
