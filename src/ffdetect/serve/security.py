"""Who may talk to ``ffdetect serve``: the Host-header check, the bearer token, the bind rule.

- **Host header** (DNS rebinding): a request whose ``Host`` is not an allowed name gets 400.
  Allowed by default: ``localhost``, ``127.0.0.1``, ``::1`` and the address the server is bound
  to (unless that is a wildcard such as ``0.0.0.0``); ``--allowed-host`` replaces the list
  (``*`` allows any).
- **Bearer token** (``--token`` or the environment variable ``FFDETECT_TOKEN``): when set,
  every ``/v1/...`` request must carry ``Authorization: Bearer <token>`` (else 401), whatever
  its peer address (a reverse proxy on the same machine would make every client look local).
  The page, ``/docs``, ``/openapi.json`` and ``/healthz`` stay open: they reveal nothing about
  the model and run nothing.
- **Bind**: a non-loopback ``--host`` without a token is refused (the safer choice: an open
  detection endpoint on a network is a free GPU/CPU for anyone); with a token it is served
  with a warning (the traffic is plain HTTP: put TLS in front).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Sequence
from typing import Any

from ffdetect.errors import UserError

#: Environment variable read when ``--token`` is not given.
TOKEN_ENV = "FFDETECT_TOKEN"
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARD_BINDS = ("", "0.0.0.0", "::")
#: Path prefix that the token protects.
PROTECTED_PREFIX = "/v1/"


class ServeConfigError(UserError, ValueError):
    """The server would start in an unsafe configuration; the message says what to change."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 with or without brackets) is loopback."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def default_allowed_hosts(bind: str) -> list[str]:
    """Local names plus the bound address (when it is a specific one)."""
    hosts = list(LOCAL_NAMES)
    name = bind.strip().strip("[]").lower()
    if name not in WILDCARD_BINDS and name not in hosts:
        hosts.append(name)
    return hosts


def check_bind(host: str, token: str | None) -> list[str]:
    """Refuse a non-loopback bind without a token; return the warnings to print for ``host``."""
    if is_loopback(host):
        return []
    if not token:
        raise ServeConfigError(
            f"--host {host} is reachable from the network: set --token (or {TOKEN_ENV}) so that "
            "clients must authenticate, or bind 127.0.0.1"
        )
    warnings = [
        f"serving on {host}: reachable from the network; /v1/ requests need the bearer token, "
        "and HTTP is unencrypted (put a TLS proxy in front)"
    ]
    if host.strip().strip("[]") in WILDCARD_BINDS:
        warnings.append(
            "only localhost names are accepted in the Host header unless --allowed-host names "
            "the host clients use"
        )
    return warnings


def host_of(header: str) -> str:
    """The host part of a ``Host`` header (port and IPv6 brackets removed), lower case."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value  # a bare name or an unbracketed IPv6 address


async def _answer(send: Any, status: int, detail: str, extra: Sequence[tuple] = ()) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class HostCheck:
    """ASGI middleware: 400 for a request whose ``Host`` header is not an allowed name."""

    def __init__(self, app: Any, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.any_host = "*" in allowed_hosts
        self.allowed = {host_of(h) for h in allowed_hosts}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """Pass allowed requests on; answer the others."""
        if scope["type"] == "http" and not self.any_host:
            host = host_of(_header(scope, b"host") or "")
            if host not in self.allowed:
                await _answer(send, 400, "host not allowed (see --allowed-host)")
                return
        await self.app(scope, receive, send)


class TokenAuth:
    """ASGI middleware: 401 for a ``/v1/`` request without ``Authorization: Bearer <token>``."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """Pass authorised requests on; answer the others."""
        if scope["type"] == "http" and scope["path"].startswith(PROTECTED_PREFIX):
            given = (_header(scope, b"authorization") or "").encode("latin-1")
            if not hmac.compare_digest(given, self.expected):
                await _answer(
                    send, 401, "missing or wrong bearer token", [(b"www-authenticate", b"Bearer")]
                )
                return
        await self.app(scope, receive, send)
