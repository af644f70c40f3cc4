"""Agent persona cards: YAML files (name, voice, background facts) that define who the agent is."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError

from memory.errors import ConfigurationError

__all__ = ["CARDS_DIR", "PersonaCard", "available_cards", "load_card"]

CARDS_DIR = Path(__file__).resolve().parent


class PersonaCard(BaseModel):
    """Who the agent is. ``background`` holds first-person facts shown in every system prompt."""

    name: str = Field(min_length=1, max_length=64)
    voice: str = ""
    background: list[str] = Field(default_factory=list)


def available_cards() -> list[str]:
    """Names of the cards shipped with Kindred."""
    return sorted(p.stem for p in CARDS_DIR.glob("*.yaml"))


def load_card(name_or_path: str | Path) -> PersonaCard:
    """Load a shipped card by name (``kindred``) or any YAML card by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = CARDS_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ConfigurationError(f"No persona card {str(name_or_path)!r}. Shipped cards: "
                                 f"{available_cards()}; or pass the path of a YAML file.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return PersonaCard.model_validate(data)
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigurationError(f"Persona card {path} is not valid: {exc}") from exc
