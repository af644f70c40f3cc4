"""API keys and tenants: who is calling, decided before a byte of the body is read.

Why an ASGI middleware and not a FastAPI dependency: FastAPI reads and parses a request's body
before it solves the route's dependencies, so a dependency would read a 200 MB body whole before
refusing it. Here the ``Authorization`` header is checked first, and a request without a valid key
is answered 401 unread.

Each key belongs to one tenant; every route builds its :class:`~memory.scope.Scope` from the
tenant of the key (``request.state.tenant``), never from the request, so one tenant's key cannot
name another tenant's users, conversations, traces or exports. Keys are kept as SHA-256 digests
(a key is 32 random bytes, so a fast hash is enough, as for GitHub's tokens) and compared in
constant time; a key never appears in a log, a trace or an error message.

Where keys come from: a keys file (``KINDRED_API_KEYS_FILE`` or ``service.api_keys_file``;
``kindred keys add --tenant acme`` writes one), ``KINDRED_SERVICE__API_KEYS`` (``tenant:key``
pairs separated by commas) and the older single ``KINDRED_SERVICE__TOKEN`` (the default tenant).
With none configured the service is open, and ``kindred serve`` binds loopback only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from agent.service.errors import error_body
from memory.errors import ConfigurationError
from memory.scope import DEFAULT_TENANT, Scope

__all__ = ["OPEN_PATHS", "ApiKeys", "Authenticate", "digest", "new_key", "scope_of"]

# routes anyone may call: liveness, readiness, the web page and its assets, the API's docs
OPEN_PATHS = ("/health", "/ready", "/docs", "/redoc", "/openapi.json", "/static/")
_KEY_PREFIX = "kdr_"


def scope_of(request: Any, user_id: str) -> Scope:
    """The Scope a route acts on: the user named in the request, of the caller key's tenant."""
    return Scope(user=user_id, tenant=getattr(request.state, "tenant", DEFAULT_TENANT))


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A fresh API key (shown once; only its digest is stored)."""
    return _KEY_PREFIX + secrets.token_urlsafe(32)


class ApiKeys:
    """Digest → tenant, from every configured source."""

    def __init__(self, digests: dict[str, str] | None = None) -> None:
        self._tenants = dict(digests or {})

    @classmethod
    def from_settings(cls, service: Any) -> ApiKeys:
        keys = cls()
        if service.api_keys_file is not None:
            keys.load_file(Path(service.api_keys_file).expanduser())
        if service.api_keys is not None:
            keys.add_pairs(service.api_keys.get_secret_value())
        if service.token is not None:
            # the older single token: any length, as before (new keys are made by `keys add`)
            keys.add(service.token.get_secret_value(), DEFAULT_TENANT, min_length=1)
        return keys

    def __bool__(self) -> bool:
        return bool(self._tenants)

    def __len__(self) -> int:
        return len(self._tenants)

    @property
    def tenants(self) -> set[str]:
        return set(self._tenants.values())

    def add(self, key: str, tenant: str, *, min_length: int = 16) -> None:
        from agent.validation import USER_ID_PATTERN

        if not USER_ID_PATTERN.fullmatch(tenant):
            raise ConfigurationError(f"Invalid tenant name {tenant[:40]!r} for an API key: use "
                                     "letters, digits and _ . @ -.")
        if len(key) < min_length or not key.strip():
            raise ConfigurationError(f"An API key of tenant {tenant!r} is shorter than 16 "
                                     "characters: make one with `kindred keys add`.")
        self._tenants[digest(key)] = tenant

    def add_pairs(self, text: str) -> None:
        for n, pair in enumerate(p.strip() for p in text.split(",") if p.strip()):
            tenant, sep, key = pair.partition(":")
            if not sep:
                raise ConfigurationError(f"KINDRED_SERVICE__API_KEYS entry {n + 1} is not "
                                         "'tenant:key' (entries are separated by commas).")
            self.add(key.strip(), tenant.strip())

    def load_file(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text())
            entries = data["keys"]
            for entry in entries:
                tenant, hashed = entry["tenant"], entry["sha256"]
                if len(hashed) != 64:
                    raise ValueError("sha256 must be 64 hex digits")
                self._tenants[hashed.lower()] = tenant
        except FileNotFoundError:
            raise ConfigurationError(f"The API keys file {path} does not exist: create it with "
                                     f"`kindred keys add --tenant NAME --file {path}`.") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(f"The API keys file {path} is not valid ({exc}): it holds "
                                     '{"keys": [{"tenant": "...", "sha256": "..."}]}, as '
                                     "`kindred keys add` writes it.") from None

    def tenant_of(self, key: str) -> str | None:
        wanted = digest(key)
        found = None
        for hashed, tenant in self._tenants.items():  # every digest compared: constant time
            if hmac.compare_digest(hashed, wanted):
                found = tenant
        return found

    @staticmethod
    def append_to_file(path: Path, tenant: str, name: str = "") -> str:
        """Make a key for ``tenant``, store its digest in ``path``; returns the key."""
        data: dict[str, Any] = {"keys": []}
        if path.exists():
            data = json.loads(path.read_text())
        key = new_key()
        ApiKeys().add(key, tenant)  # checks the tenant name
        data["keys"].append({"tenant": tenant, "sha256": digest(key), "name": name})
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        os.chmod(tmp, 0o600)
        tmp.replace(path)
        return key




class Authenticate:
    """ASGI middleware: sets ``scope["state"]["tenant"]`` from the bearer key, or answers 401
    before the body is read. With no keys every request is the default tenant's."""

    def __init__(self, app: Any, keys: ApiKeys, open_paths: Iterable[str] = OPEN_PATHS) -> None:
        self.app, self.keys, self.open_paths = app, keys, tuple(open_paths)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        path = scope.get("path", "")
        if not self.keys or path == "/" or path.startswith(self.open_paths):
            state["tenant"] = DEFAULT_TENANT
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        scheme, _, token = header.strip().partition(" ")
        if not header:
            await self._refuse(send, "This server needs an API key: send 'Authorization: "
                                     "Bearer <key>' (the openai client: api_key=...).", path)
            return
        if scheme.lower() != "bearer" or not token.strip():
            await self._refuse(send, "Send the key as 'Authorization: Bearer <key>' (a bare key "
                                     "or another scheme is not accepted).", path)
            return
        tenant = self.keys.tenant_of(token.strip())
        if tenant is None:
            await self._refuse(send, "The API key is not valid for this server: check it, or ask "
                                     "the operator for one (`kindred keys add`).", path)
            return
        state["tenant"] = tenant
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(send: Callable, detail: str, path: str) -> None:
        body = json.dumps(error_body(401, "Unauthorised", detail, path)).encode()
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"www-authenticate", b'Bearer realm="kindred"')]})
        await send({"type": "http.response.body", "body": body})
