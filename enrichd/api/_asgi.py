"""The app's ASGI HTTP connection: quart-trio's, minus two tasks for requests without a body.

quart-trio handles every request in a nursery of two tasks: one runs the handler, the other
reads the request body and then waits for the client to disconnect, to cancel the handler if it
does. For a request without a body (every GET the API serves), the body is one empty message
that is already there, and the handlers it reaches are short reads of the store: cancelling
them on disconnect saves nothing. Those requests are therefore handled inline, which takes the
nursery, two task spawns and their cancellation out of the API's hottest path (status reads and
the job list under load; see docs/benchmarks.md). Requests that may carry a body keep
quart-trio's own handling unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import trio
from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable
from quart.wrappers import Response
from quart_trio.asgi import TrioASGIHTTPConnection

_BODILESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


def _may_have_body(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether the request declares a body (a non-zero length, or chunked)."""
    for name, value in headers:
        lower = name.lower()
        if lower == b"transfer-encoding":
            return True
        if lower == b"content-length" and value.strip() not in (b"", b"0"):
            return True
    return False


class LeanHTTPConnection(TrioASGIHTTPConnection):
    """Serves a bodiless request in the connection's own task; anything else as quart-trio does."""

    async def __call__(self, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        """Handle one HTTP request (the ASGI application call)."""
        if self.scope["method"] not in _BODILESS_METHODS or _may_have_body(self.scope["headers"]):
            await super().__call__(receive, send)
            return
        request = self._create_request_from_scope(send)
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # gone before the request was complete: nothing to answer
            if message["type"] == "http.request":
                request.body.append(message.get("body", b""))
                if not message.get("more_body", False):
                    request.body.set_complete()
                    break
        response = await self.app.handle_request(request)
        timeout = self.app.config["RESPONSE_TIMEOUT"]
        if isinstance(response, Response) and response.timeout != Ellipsis:
            timeout = cast(float | None, response.timeout)
        if timeout is None:
            await self._send_response(send, response)
        else:
            # As quart-trio does: a client that stops reading cannot hold the task forever.
            with trio.move_on_after(timeout):
                await self._send_response(send, response)
