"""Whose memory: the key every stored item carries.

Why one value object: a tenant (one customer of a deployment) holds users; a user holds
conversations (threads), which share the user's long-term memory (events, persona, feedback).
Every row, lexical entry and vector carries the tenant and the user, so ``forget`` and exports reach
everything of one person with one filter per store, and one tenant's user ``alice`` is never another
tenant's ``alice``. Conversations are a column of the records that belong to one (turns), not a
level of the key: what a user knows is shared by all of their conversations.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_TENANT", "Scope", "as_scope"]

DEFAULT_TENANT = "default"


@dataclass(frozen=True, slots=True)
class Scope:
    """A user of a tenant. ``key`` is the flat string the vector and lexical stores filter on."""

    user: str
    tenant: str = DEFAULT_TENANT

    @property
    def key(self) -> str:
        """The user id alone for the default tenant (so data written before tenants existed keeps
        its key), ``tenant/user`` otherwise. User ids cannot hold ``/``, so the two never meet."""
        return self.user if self.tenant == DEFAULT_TENANT else f"{self.tenant}/{self.user}"

    def __str__(self) -> str:
        return self.key


def as_scope(who: Scope | str) -> Scope:
    """A :class:`Scope` from a scope or a bare user id (the default tenant)."""
    return who if isinstance(who, Scope) else Scope(user=who)
