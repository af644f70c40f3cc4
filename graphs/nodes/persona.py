"""``extract_persona``: what this utterance says about the user (stored later, at write-back).

The trait is only extracted here, not stored: storing happens in ``write_back`` with the rest of
the turn, so a turn that fails half-way (the model is down) leaves no orphan trait behind. For a
replayed batch (``observe``) each utterance gets its own trait attached, so a turn and its trait
travel together to write-back. A replayed agent turn's trait passes the test a chat turn's reply
passes (:func:`~personas.consistency.speaks_of_itself`): an assistant's facts about the world are
not its persona. A chat message that takes back what the user said in this session ("I was just
kidding about the bike.", :mod:`personas.retraction`) names the traits ``write_back`` retracts;
only what it says after the take-back may hold a trait.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langgraph.runtime import Runtime

from graphs.services import Services
from graphs.state import Said, TurnContext, TurnState, stm_of
from graphs.trace import StoredTrait, TraitNote
from personas.bank import facts_of
from personas.consistency import speaks_of_itself
from personas.extract.base import ExtractedTrait
from personas.retraction import retracted, take_back

__all__ = ["make_extract_persona", "read_traits_ahead"]


def _extract_all(extractor, texts: list[str]) -> list[ExtractedTrait | None]:
    many = getattr(extractor, "extract_many", None)  # one spaCy pass for the batch
    return many(texts) if many else [extractor.extract(t) for t in texts]


def _extractors(services: Services):
    return (("user", services.user_extractor), ("agent", services.agent_extractor))


def _kept(role: str, traits: list[ExtractedTrait | None], texts: Sequence[str]
          ) -> list[ExtractedTrait | None]:
    """A replayed agent turn's trait passes the test a chat turn's reply passes (own_trait),
    its sentence in ``texts`` (the utterances, one per trait) included."""
    if role != "agent":
        return traits
    return [t if t and speaks_of_itself(t.text, said) else None
            for t, said in zip(traits, texts, strict=True)]


def read_traits_ahead(services: Services, said: Sequence[Said]) -> list[str]:
    """Read the traits of a bulk ingest's utterances before its graph runs (the extractors keep
    what they read with each text's parse, where ``extract_persona`` finds it); the texts of the
    traits this node will attach, as far as known now, for the caller to encode with the rest.

    Why here: the same extractors and the same test of an agent's trait as the node, so what is
    read ahead is what the node would read. An extractor without ``read_ahead`` (an LLM) is
    asked by the node, as before."""
    if not services.config.personas.enabled:
        return []
    found: list[str] = []
    for role, extractor in _extractors(services):
        ahead = getattr(extractor, "read_ahead", None)
        texts = [s.text for s in said if s.role == role]
        if ahead is not None and texts:
            # what the bank will encode: each fact of a trait (:func:`facts_of`)
            found += [fact.text for t in _kept(role, ahead(texts), texts) if t
                      for fact in facts_of(t)]
    return found


def make_extract_persona(services: Services):
    def extract_persona(state: TurnState, runtime: Runtime[TurnContext]) -> dict[str, Any]:
        trace = state["trace"]
        if not services.config.personas.enabled:
            return {"user_trait": None}
        if state.get("kind") == "observe":
            batch: list[Said] = list(state.get("batch") or [])
            for role, extractor in _extractors(services):
                at = [n for n, said in enumerate(batch) if said.role == role]
                if at:
                    texts = [batch[n].text for n in at]
                    traits = _kept(role, _extract_all(extractor, texts), texts)
                    for n, trait in zip(at, traits, strict=True):
                        batch[n] = batch[n].model_copy(update={"trait": trait})
            found = sum(1 for said in batch if said.trait)
            return {"batch": batch, "trace": trace.model_copy(update={"traits_found": found})}
        text, update = state["text"], {}
        back = take_back(text) if state.get("kind") == "turn" else None
        if back is not None:  # "I was just kidding about the bike."
            session = [t.id for t in stm_of(state) if t.role == "user"]
            gone = retracted(back.named, services.personas.list(runtime.context.scope, "user"),
                             session, services.memory.topics.topics)
            text, update = back.after, {"retracting": [t.id for t in gone]}
            # write_back ends them with the turn; a turn that fails returns no trace
            trace = trace.model_copy(update={"traits_retracted": [StoredTrait.of(t)
                                                                  for t in gone]})
        trait = services.user_extractor.extract(text) if text else None
        note = TraitNote(text=trait.text, subject=trait.subject) if trait else None
        return {**update, "user_trait": trait,
                "trace": trace.model_copy(update={"user_trait": note})}

    return extract_persona
