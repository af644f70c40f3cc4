"""Who the user is and who the agent is: trait banks, extractors and agent persona cards."""

from personas.bank import EXCLUSIVE_SUBJECTS, PersonaBank, Trait
from personas.cards import PersonaCard, load_card

__all__ = ["EXCLUSIVE_SUBJECTS", "PersonaBank", "PersonaCard", "Trait", "load_card"]
