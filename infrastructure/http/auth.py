"""API keys: who is calling (the `Caller` the commands act for).

Without `CONTEXT_API_KEYS` every caller is the one local tenant (the embedded default). With
keys, each key maps to a tenant. What a tenant may see and touch is the access policy's
(application.commands.access), the same at every door.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, WebSocket
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers

from ctxstore.application.commands import access
from ctxstore.application.commands.access import Caller
from ctxstore.application.ports import AgentSummary
from ctxstore.application.store import LOCAL_TENANT, ContextStore


class ApiKeyError(ValueError):
    """CONTEXT_API_KEYS that cannot be read; the message says which entry and why."""


def parse_api_keys(text: str | None) -> dict[str, str]:
    """`key1:tenantA,key2:tenantB` into {key: tenant}; empty or None means no keys."""
    keys: dict[str, str] = {}
    if not text or not text.strip():
        return keys
    for n, entry in enumerate(text.split(",")):
        entry = entry.strip()
        if not entry:
            continue
        key, sep, tenant = entry.rpartition(":")
        key, tenant = key.strip(), tenant.strip()
        if not sep or not key or not tenant:
            raise ApiKeyError(
                f"CONTEXT_API_KEYS entry {n + 1} must be key:tenant (comma-separated entries)"
            )
        if key in keys and keys[key] != tenant:
            raise ApiKeyError(f"CONTEXT_API_KEYS entry {n + 1} maps a key to two tenants")
        keys[key] = tenant
    return keys


@dataclass(frozen=True)
class KeyRing:
    keys: dict[str, str]

    @property
    def enabled(self) -> bool:
        return bool(self.keys)

    def tenant_for(self, presented: str | None) -> str | None:
        """The key's tenant, or None; compares every key in constant time."""
        if not self.enabled:
            return LOCAL_TENANT
        if not presented:
            return None
        found: str | None = None
        for key, tenant in self.keys.items():
            if secrets.compare_digest(key.encode(), presented.encode()):
                found = tenant
        return found


api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="An API key of CONTEXT_API_KEYS.")
bearer_token = HTTPBearer(auto_error=False, description="An API key of CONTEXT_API_KEYS.")

UNAUTHORIZED = "a valid API key is required (header X-API-Key or Authorization: Bearer <key>)"


async def require_tenant(
    request: Request,
    api_key: Annotated[str | None, Depends(api_key_header)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_token)] = None,
) -> str:
    """The caller's tenant, or 401 when keys are configured and none valid was sent."""
    ring: KeyRing = request.app.state.api.keys
    presented = api_key or (bearer.credentials if bearer else None)
    tenant = ring.tenant_for(presented)
    if tenant is None:
        raise HTTPException(401, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})
    return tenant


Tenant = Annotated[str, Depends(require_tenant)]


WS_PROTOCOL = "ctxstore"
WS_KEY_PROTOCOL = "ctxstore.key."
KEY_IN_URL = ("api_key: a key in the URL is not accepted (URLs end up in access logs and "
              "browser history); send it in the X-API-Key or Authorization: Bearer header, or "
              f"from a browser as the WebSocket subprotocol {WS_KEY_PROTOCOL}<base64url key>")


def offered_protocols(websocket: WebSocket) -> list[str]:
    """The subprotocols the client offered (`Sec-WebSocket-Protocol`, comma-separated)."""
    raw = ",".join(websocket.headers.getlist("sec-websocket-protocol"))
    return [p.strip() for p in raw.split(",") if p.strip()]


def _key_from_protocols(protocols: list[str]) -> str | None:
    for protocol in protocols:
        if protocol.startswith(WS_KEY_PROTOCOL):
            encoded = protocol[len(WS_KEY_PROTOCOL):]
            try:
                return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
            except (ValueError, UnicodeDecodeError):
                return None
    return None


def websocket_key(websocket: WebSocket) -> str | None:
    """The key of a WebSocket handshake: the `X-API-Key` or `Authorization: Bearer` header
    (programs), or the `ctxstore.key.<base64url>` subprotocol (browsers, which cannot set
    headers on a WebSocket). Never the URL: it would be logged."""
    return header_key(websocket.headers) or _key_from_protocols(offered_protocols(websocket))


def header_key(headers: Headers) -> str | None:
    """The key of `X-API-Key`, else of `Authorization: Bearer <key>`."""
    presented = headers.get("x-api-key")
    auth = headers.get("authorization", "")
    if not presented and auth.lower().startswith("bearer "):
        presented = auth[7:].strip()
    return presented or None


def websocket_tenant(websocket: WebSocket) -> str | None:
    """The tenant of a WebSocket handshake, or None when keys are configured and none valid
    came (see websocket_key)."""
    ring: KeyRing = websocket.app.state.api.keys
    return ring.tenant_for(websocket_key(websocket))


async def require_caller(request: Request, tenant: Annotated[str, Depends(require_tenant)]
                         ) -> Caller:
    """The caller the commands act for: the key's tenant (the local one without keys)."""
    return Caller(tenant=tenant, keyed=request.app.state.api.keys.enabled)


CallerDep = Annotated[Caller, Depends(require_caller)]


def visible_agent(store: ContextStore, agent_id: str, tenant: str) -> AgentSummary:
    """The access policy's rule (application.commands.access) for a route that is no command:
    this tenant's agent of that id, else AgentNotFound."""
    return access.visible_agent(store, Caller(tenant), agent_id)
