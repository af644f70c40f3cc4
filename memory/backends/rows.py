"""How a :class:`~memory.backends.base.Record` becomes a table row and back, for both SQL
backends (SQLite and PostgreSQL differ in placeholders and SQL, not in the row itself)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from memory.backends.base import Record
from memory.scope import Scope

__all__ = ["RECORD_COLUMNS", "record_of", "record_row", "where_clause"]

# the columns every SELECT of records names, in this order (``record_of`` reads them so)
RECORD_COLUMNS = "kind, id, conversation, session, seq, ts, status, tag, value"


def where_clause(scope: Scope, kind: str, mark: str, **columns: Any) -> tuple[str, list[Any]]:
    """``tenant, user_id, kind`` and every column given (not None) as an AND of equalities,
    with ``mark`` as the backend's placeholder (``?`` or ``%s``)."""
    parts = [f"tenant={mark}", f"user_id={mark}", f"kind={mark}"]
    params: list[Any] = [scope.tenant, scope.user, kind]
    for name, value in columns.items():
        if value is not None:
            parts.append(f"{name}={mark}")  # names come from the backends, never from a caller
            params.append(value)
    return " AND ".join(parts), params


def record_row(scope: Scope, r: Record) -> tuple:
    """``(tenant, user_id, *RECORD_COLUMNS)``, the value as compact JSON."""
    return (scope.tenant, scope.user, r.kind, r.id, r.conversation, r.session, int(r.seq),
            float(r.ts), r.status, r.tag, json.dumps(dict(r.value), ensure_ascii=False,
                                                     separators=(",", ":")))


def record_of(row: Sequence[Any]) -> Record:
    """A record from a row of ``RECORD_COLUMNS``."""
    kind, rid, conversation, session, seq, ts, status, tag, value = row
    return Record(kind=kind, id=rid, value=json.loads(value), ts=ts, session=session, seq=seq,
                  status=status, tag=tag, conversation=conversation)
