"""A user's conversations: named threads that share the user's long-term memory.

Why a record per conversation: a chat app lists its conversations with a title and the time of
the last message, and must be able to tell "no such conversation" from "a conversation with no
turns yet". The default conversation (id ``default``, stored as ``""``) always exists, so data
written before conversations existed is simply that conversation. Turns and events carry their
conversation in the records' ``conversation`` column; deleting a conversation removes them and
its thread, while what was learnt about the user (traits, corrections) stays: it belongs to the
user, as ChatGPT's memory outlives a deleted chat. ``forget`` removes everything.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, Field

from memory.backends import Stores
from memory.backends.base import GetRecords, Record
from memory.errors import InvalidInputError, NotFoundError
from memory.scope import Scope
from memory.unit import UnitOfWork

__all__ = ["CONVERSATION_ID_PATTERN", "DEFAULT_CONVERSATION", "Conversation",
           "ConversationIndex", "check_conversation_id", "stored_id"]

DEFAULT_CONVERSATION = "default"
CONVERSATION_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
_KIND = "conversation"


class Conversation(BaseModel):
    """One thread of a user: its id, title and when it was started and last written."""

    id: str = Field(description="'default' for the user's first conversation")
    title: str
    created_at: float
    updated_at: float


def check_conversation_id(conversation: str | None) -> str:
    """A conversation id as given by a caller ("default" when None), checked whole."""
    if conversation is None:
        return DEFAULT_CONVERSATION
    if not isinstance(conversation, str) or not CONVERSATION_ID_PATTERN.fullmatch(conversation):
        shown = conversation[:40] if isinstance(conversation, str) else type(conversation).__name__
        raise InvalidInputError(
            f"Invalid conversation id {shown!r}: use 1-64 letters, digits and _ . @ -, starting "
            "with a letter or digit (or leave it out for the default conversation).")
    return conversation


def stored_id(conversation: str) -> str:
    """The value of the records' ``conversation`` column ("" for the default conversation, as
    every record written before conversations existed holds)."""
    return "" if conversation == DEFAULT_CONVERSATION else conversation


class ConversationIndex:
    """The conversation records of each user, over the record store."""

    def __init__(self, stores: Stores) -> None:
        self._stores = stores

    def get(self, scope: Scope, conversation: str) -> Conversation | None:
        found = self._stores.records.get(scope, _KIND, conversation)
        if found is None:
            return None
        return Conversation(id=found.id, **found.value)

    def require(self, scope: Scope, conversation: str) -> Conversation | None:
        """The conversation, or a :class:`NotFoundError` saying how to create it (the default
        conversation needs no record: None is returned for it until it has one)."""
        found = self.get(scope, conversation)
        if found is None and conversation != DEFAULT_CONVERSATION:
            raise NotFoundError(f"No conversation {conversation!r} for this user: create it first "
                                "(create_conversation, or POST /v1/users/{user}/conversations).")
        return found

    def list(self, scope: Scope) -> list[Conversation]:
        """The user's conversations, most recently written first."""
        found = [Conversation(id=r.id, **r.value)
                 for r in self._stores.records.list(scope, _KIND)]
        return sorted(found, key=lambda c: (-c.updated_at, c.id))

    def put(self, scope: Scope, conversation: Conversation, unit: UnitOfWork | None = None
            ) -> Conversation:
        record = _record(conversation)
        if unit is not None:
            unit.put(scope, [record])
        else:
            self._stores.records.put(scope, [record])
        return conversation

    def touch(self, scope: Scope, conversation: str, ts: float, title_from: str = "") -> None:
        """Note a write at ``ts`` (the default conversation gets its record on its first turn)."""
        found = self._stores.records.batch([self.read(scope, conversation)])[0]
        record = self.touched(conversation, found, ts, title_from)
        if record is not None:
            self._stores.records.put(scope, [record])

    @staticmethod
    def read(scope: Scope, conversation: str) -> GetRecords:
        """The read :meth:`touched` needs, for a caller that batches it with its own."""
        return GetRecords(scope, _KIND, (conversation,))

    @staticmethod
    def touched(conversation: str, found: Sequence[Record], ts: float, title_from: str = ""
                ) -> Record | None:
        """The conversation's record after a write at ``ts``, from what :meth:`read` found
        (None: nothing to change). Why apart from :meth:`touch`: a chat turn reads it in the
        batch that keeps the reply's trace, a round trip less on PostgreSQL."""
        if not found:
            conv = Conversation(id=conversation, title=_title(title_from) or "Conversation",
                                created_at=ts, updated_at=ts)
        else:
            conv = Conversation(id=found[0].id, **found[0].value)
            if ts <= conv.updated_at:
                return None
            conv = conv.model_copy(update={"updated_at": ts})
        return _record(conv)

    def delete(self, scope: Scope, conversation: str, unit: UnitOfWork) -> None:
        unit.delete(scope, _KIND, [conversation])

    def ids_of(self, scope: Scope, conversation: str, kind: str) -> Sequence[str]:
        """The ids of the records of ``kind`` written in the conversation."""
        return [r.id for r in self._stores.records.list(scope, kind,
                                                        conversation=stored_id(conversation))]


def _title(text: str, words: int = 8) -> str:
    """A title from a conversation's first message: its first words."""
    parts = text.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def _record(conversation: Conversation) -> Record:
    return Record(_KIND, conversation.id, conversation.model_dump(exclude={"id"}),
                  ts=conversation.created_at)
