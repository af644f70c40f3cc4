"""The evaluation script format: YAML, validated by pydantic, errors that point at the line.

A script is a list of steps run in order against a fresh Kindred; every time comes from the script
(absolute ``at`` or a ``gap`` like "+3 days" from the previous step), never from the wall clock::

    name: a user who moves house
    start: 2024-03-01T09:00:00Z
    steps:
      - say: {user: alice, text: "I live in Paris."}
      - end_session: {user: alice}
      - say: {user: alice, gap: "+30 days", text: "I moved to Berlin last week."}
      - check:
          user: alice
          expect:
            - persona_contains: Berlin
            - persona_not_contains: Paris

Steps: ``say`` (a user turn; ``agent`` fixes the agent's reply instead of generating it, as
LD-Agent's teacher forcing does), ``feedback``, ``end_session``, ``check`` (probes only),
``forget``. Expectations: ``memory_contains`` / ``memory_not_contains`` (everything Kindred holds
about the user: session turns, stored turns, events, traits, feedback), ``persona_contains`` /
``persona_not_contains`` (active user traits), ``retrieved_contains`` /
``retrieved_not_contains`` (what the reply recalled), ``reply_contains``, ``reply_matches``
(regex), ``reply_judge`` (a rubric for an LLM judge),
``known_user`` (after ``forget``: false).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from memory.errors import InvalidInputError

__all__ = ["Check", "Expectation", "Feedback", "Say", "Script", "Step", "StepKind", "UserOnly",
           "load_script", "parse_gap"]

_GAP = re.compile(r"^\+\s*(\d+(?:\.\d+)?)\s*(second|minute|hour|day|week|month|year)s?$",
                  re.IGNORECASE)
_UNIT_S = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400,
           "month": 30 * 86400, "year": 365 * 86400}


def parse_gap(text: str) -> float:
    """Seconds in a gap such as "+3 days", "+90 minutes", "+1 year"."""
    match = _GAP.match(str(text).strip())
    if not match:
        raise ValueError(f"gap {text!r} is not like '+3 days' (units: second, minute, hour, day, "
                         "week, month, year)")
    return float(match.group(1)) * _UNIT_S[match.group(2).lower()]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Expectation(_Strict):
    """Exactly one probe."""

    memory_contains: str | None = None
    memory_not_contains: str | None = None
    persona_contains: str | None = None
    persona_not_contains: str | None = None
    retrieved_contains: str | None = None
    retrieved_not_contains: str | None = None
    reply_contains: str | None = None
    reply_matches: str | None = None
    reply_judge: str | None = None
    known_user: bool | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Expectation:
        set_fields = [k for k, v in self.__dict__.items() if v is not None]
        if len(set_fields) != 1:
            raise ValueError(f"an expectation has exactly one kind, got {set_fields or 'none'}")
        if self.reply_matches is not None:
            try:
                re.compile(self.reply_matches)
            except re.error as exc:
                raise ValueError(f"reply_matches is not a valid regex: {exc}") from exc
        return self

    @property
    def kind(self) -> str:
        return next(k for k, v in self.__dict__.items() if v is not None)

    @property
    def value(self) -> Any:
        return getattr(self, self.kind)


class _Timed(_Strict):
    user: str = Field(min_length=1)
    at: datetime | None = None
    gap: str | None = None

    @field_validator("gap")
    @classmethod
    def _gap(cls, value: str | None) -> str | None:
        if value is not None:
            parse_gap(value)
        return value

    @model_validator(mode="after")
    def _one_time(self):
        if self.at is not None and self.gap is not None:
            raise ValueError("give `at` or `gap`, not both")
        return self


class Say(_Timed):
    text: str = Field(min_length=1)
    agent: str | None = None  # teacher forcing: the agent's reply, not generated
    expect: list[Expectation] = Field(default_factory=list)

    @model_validator(mode="after")
    def _reply_probes_need_a_reply(self) -> Say:
        if self.agent is not None and any(e.kind.startswith(("reply_", "retrieved_"))
                                          for e in self.expect):
            raise ValueError("reply and retrieval expectations need a generated reply: "
                             "remove `agent` or move them to another turn")
        return self


class Feedback(_Timed):
    text: str = Field(min_length=1)
    expect: list[Expectation] = Field(default_factory=list)


class Check(_Timed):
    expect: list[Expectation] = Field(min_length=1)

    @model_validator(mode="after")
    def _no_reply_probes(self) -> Check:
        bad = [e.kind for e in self.expect if e.kind.startswith(("reply_", "retrieved_"))]
        if bad:
            raise ValueError(f"{bad} need a reply: put them under a `say` step")
        return self


class UserOnly(_Timed):
    pass


class Step(_Strict):
    """One of: say, feedback, end_session, check, forget."""

    say: Say | None = None
    feedback: Feedback | None = None
    end_session: UserOnly | None = None
    check: Check | None = None
    forget: UserOnly | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Step:
        kinds = [k for k, v in self.__dict__.items() if v is not None]
        if len(kinds) != 1:
            raise ValueError(f"a step is exactly one of say, feedback, end_session, check, forget; "
                             f"got {kinds or 'none'}")
        return self

    @property
    def kind(self) -> str:
        return next(k for k, v in self.__dict__.items() if v is not None)

    @property
    def body(self) -> _Timed:
        return getattr(self, self.kind)


class Script(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    start: datetime = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
    turn_gap_s: float = Field(default=30.0, gt=0, description="time between steps with no time")
    replies: list[str] | None = Field(default=None, description="what the fake model says, in turn")
    settings: dict[str, Any] = Field(default_factory=dict, description="Kindred setting overrides")
    steps: list[Step] = Field(min_length=1)
    lines: list[int] = Field(default_factory=list, exclude=True)  # line of each step, for reports


def _line_of(node: yaml.Node, loc: tuple) -> int:
    """The 1-based line of the YAML node at a pydantic error location (as deep as it resolves)."""
    line = node.start_mark.line + 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
            if match is None:
                break
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            continue  # pydantic's own path segments (union branches) have no node
        line = node.start_mark.line + 1
    return line


def load_script(path: str | Path) -> Script:
    """Parse and validate a script; errors name the file and line and say what is wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"Cannot read evaluation script {path}: {exc}") from exc
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise InvalidInputError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})"
                                ) from exc
    if not isinstance(data, dict) or root is None:
        raise InvalidInputError(f"{path}:1: a script is a mapping with `name` and `steps`")
    try:
        script = Script.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            where = ".".join(str(p) for p in loc)
            problems.append(f"{path}:{_line_of(root, loc)}: {where}: {err['msg']}")
        raise InvalidInputError("Invalid evaluation script:\n  " + "\n  ".join(problems)) from exc
    steps_node = next((v for k, v in root.value if getattr(k, "value", None) == "steps"), None)
    script.lines = [n.start_mark.line + 1 for n in steps_node.value] if steps_node else []
    return script


StepKind = Literal["say", "feedback", "end_session", "check", "forget"]
