"""Connection guard of ``ffdetect serve``: a time limit on each request head and a cap on the
open connections of one client address, below uvicorn's HTTP protocol.

uvicorn counts every open connection against ``limit_concurrency`` (then answers 503) and
has no time limit on a request head: a few dozen connections that never finish their headers
would starve every other client. :func:`guarded_protocol` wraps uvicorn's protocol class so
that a connection whose request line and headers are not complete within ``header_timeout``
seconds (from its opening, or from the first byte of its next keep-alive request) gets 408
and is closed, and an address already holding ``max_per_client`` connections has any further
one answered 503 and closed at once.
"""

from __future__ import annotations

import asyncio
from typing import Any

#: Seconds a refused connection's unread input is still drained before it is closed.
CLOSE_GRACE = 1.0


def plain_response(status: str, text: str) -> bytes:
    """A whole ``Connection: close`` HTTP/1.1 response with a plain-text body."""
    body = text.encode()
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


def guarded_protocol(
    header_timeout: float, max_per_client: int, base: type[asyncio.Protocol] | None = None
) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol class (``base``; default: the one uvicorn picks itself) with the
    head time limit and the per-address cap; pass it as ``uvicorn.Config(http=...)``."""
    if base is None:
        from uvicorn.protocols.http.auto import AutoHTTPProtocol

        base = AutoHTTPProtocol
    timed_out = plain_response(
        "408 Request Timeout", f"request headers not received within {header_timeout:g} s"
    )
    too_many = plain_response(
        "503 Service Unavailable",
        f"too many open connections from this address (limit {max_per_client})",
    )

    class GuardedProtocol(base):  # type: ignore[valid-type, misc]
        """:data:`base` plus the head timer and the per-address cap."""

        _head_timer: asyncio.TimerHandle | None = None
        _refused = False

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            address = self.client[0] if self.client else None
            same = [c for c in self.connections if c.client and c.client[0] == address]
            if address is not None and len(same) > max_per_client:
                self._refuse(too_many)
                return
            self._start_head_timer()

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return
            if self._head_timer is None and (self.cycle is None or self.cycle.response_complete):
                self._start_head_timer()  # the first bytes of a keep-alive request
            before = self.cycle
            super().data_received(data)
            if self.cycle is not before:  # a request head is complete
                self._stop_head_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_head_timer()
            super().connection_lost(exc)

        def _start_head_timer(self) -> None:
            self._head_timer = self.loop.call_later(header_timeout, self._refuse, timed_out)

        def _stop_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _refuse(self, response: bytes) -> None:
            """Answer ``response``, stop counting this connection and close it after a grace
            period (closing at once with unread input would reset it and lose the answer)."""
            self._head_timer = None
            self._refused = True
            self.connections.discard(self)
            if not self.transport.is_closing():
                self.transport.write(response)
                if self.transport.can_write_eof():
                    self.transport.write_eof()
                self.loop.call_later(CLOSE_GRACE, self.transport.close)

    GuardedProtocol.__name__ = GuardedProtocol.__qualname__ = f"Guarded{base.__name__}"
    return GuardedProtocol
