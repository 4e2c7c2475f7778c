"""What keeps one client from holding the server: a body limit on every route, a
deadline for a request's headers and for its body.

uvicorn times out only idle keep-alive connections, and any byte resets that
timer: a client sending a header byte a second held a connection forever.
`GuardedHttpTools` is uvicorn's httptools protocol with a header deadline;
`BodyGuard` is ASGI middleware in front of every route that bounds a body's
size and time (the limit was once checked only by `/documents`: a 60 MB POST
to `/recommend` was read in full).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from searchengine.limits import DEADLINES, Deadlines


class BodyGuard:
    """On every route: 413 for a body over `limit` bytes (a declared Content-Length
    before any byte is read; a chunked or lying body as it arrives), 408 for a body
    that trickles in slower than `Deadlines` allow. Errors are the API's JSON
    `{error, detail}`. (FastAPI's own `max_body_size` answers a declared oversize
    in plain text, outside the app's error handlers.)"""

    def __init__(self, app: ASGIApp, limit: int, deadlines: Deadlines = DEADLINES) -> None:
        self.app = app
        self.limit = limit
        self.deadlines = deadlines

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _refuse(send, 413, "too_large", self.too_large)
            return
        await self.app(scope, self._guarded(receive), send)

    @property
    def too_large(self) -> str:
        return f"the body is over the {self.limit:,}-byte limit"

    def _guarded(self, receive: Receive) -> Receive:
        loop = asyncio.get_running_loop()
        end = loop.time() + self.deadlines.body_total
        seen = 0

        async def guarded() -> Message:
            nonlocal seen
            wait = min(self.deadlines.body_idle, end - loop.time())
            try:
                message = await asyncio.wait_for(receive(), timeout=max(wait, 0.001))
            except TimeoutError:
                raise HTTPException(408, "the request body arrived too slowly") from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, self.too_large)
            return message

        return guarded


async def _refuse(send: Send, status: int, code: str, detail: str) -> None:
    body = json.dumps({"error": code, "detail": detail}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class GuardedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, plus: a connection must finish each request's
    headers within `Deadlines.headers` of opening (or of its previous response),
    or it is closed. Pass as `uvicorn.run(..., http=GuardedHttpTools)`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        # `serve --header-timeout` rides on uvicorn's config (api.serve).
        self.header_deadline = float(getattr(self.config, "header_timeout", DEADLINES.headers))

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request's headers get the same deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_deadline, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()
