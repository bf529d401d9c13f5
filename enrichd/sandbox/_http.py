"""A small HTTP/1.1 server on trio and h11, for the sandbox and for canned test upstreams.

Why not Quart/Hypercorn, which the daemon's API uses: the sandbox must misbehave the way real
upstreams do — reset a connection mid-request, hang until the client gives up, send a truncated
body — and those need the socket in hand. h11 is the HTTP/1.1 state machine that httpx and
Hypercorn already build on, so this costs no new dependency weight.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, urlsplit

import h11
import msgspec
import trio

__all__ = [
    "Handler",
    "HttpRequest",
    "HttpResponse",
    "Reset",
    "json_response",
    "serve_http",
]

_MAX_REQUEST_BODY = 1024 * 1024
_READ_SIZE = 65536


class HttpRequest(msgspec.Struct, kw_only=True):
    """One request as a handler sees it: header names are lower-case."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    #: The raw request target, path and query string.
    target: str

    def json(self) -> object:
        """The body decoded as JSON (``msgspec.DecodeError`` if it is not)."""
        return msgspec.json.decode(self.body)


class HttpResponse(msgspec.Struct, kw_only=True):
    """What a handler answers; ``Content-Length`` is added by the server."""

    status: int = 200
    headers: list[tuple[str, str]] = msgspec.field(default_factory=list)
    body: bytes = b""


class Reset(msgspec.Struct):
    """Answer nothing and reset the TCP connection (the client sees a connection error)."""


Handler = Callable[[HttpRequest], Awaitable[HttpResponse | Reset]]


def json_response(
    payload: object, status: int = 200, headers: list[tuple[str, str]] | None = None
) -> HttpResponse:
    """A JSON response with the right content type."""
    return HttpResponse(
        status=status,
        headers=[("content-type", "application/json; charset=utf-8"), *(headers or [])],
        body=msgspec.json.encode(payload),
    )


def _reset(stream: trio.SocketStream) -> None:
    # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
    with contextlib.suppress(OSError):
        stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


async def _send(stream: trio.SocketStream, conn: h11.Connection, event: h11.Event) -> None:
    data = conn.send(event)
    if data:
        await stream.send_all(data)


async def _next_event(
    stream: trio.SocketStream, conn: h11.Connection
) -> h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]:
    while True:
        event = conn.next_event()
        if event is not h11.NEED_DATA:
            return event
        data = await stream.receive_some(_READ_SIZE)
        conn.receive_data(data)  # b"" means EOF; h11 then reports ConnectionClosed


async def _read_request(
    stream: trio.SocketStream, conn: h11.Connection
) -> HttpRequest | HttpResponse | None:
    """The next request, an error response to send, or ``None`` when the client closed."""
    event = await _next_event(stream, conn)
    if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
        return None
    if not isinstance(event, h11.Request):
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        part = await _next_event(stream, conn)
        if isinstance(part, h11.Data):
            size += len(part.data)
            if size > _MAX_REQUEST_BODY:
                return json_response({"error": "request body too large"}, 413)
            chunks.append(bytes(part.data))
        elif isinstance(part, h11.EndOfMessage):
            break
        else:
            return None
    target = event.target.decode("latin-1")
    split = urlsplit(target)
    return HttpRequest(
        method=event.method.decode("ascii").upper(),
        path=split.path,
        query=dict(parse_qsl(split.query, keep_blank_values=True)),
        headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in event.headers},
        body=b"".join(chunks),
        target=target,
    )


async def _run_handler(
    stream: trio.SocketStream, handler: Handler, request: HttpRequest
) -> HttpResponse | Reset | None:
    """Run ``handler``, cancelling it if the client hangs up first (``None`` then)."""
    result: list[HttpResponse | Reset] = []

    async with trio.open_nursery() as nursery:

        async def run() -> None:
            result.append(await handler(request))
            nursery.cancel_scope.cancel()

        async def watch() -> None:
            # httpx does not pipeline, so anything read here is the client going away.
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await stream.receive_some(_READ_SIZE)
            nursery.cancel_scope.cancel()

        nursery.start_soon(run)
        nursery.start_soon(watch)
    return result[0] if result else None


async def _serve_connection(stream: trio.SocketStream, handler: Handler) -> None:
    conn = h11.Connection(h11.SERVER)
    async with stream:
        try:
            while True:
                try:
                    request = await _read_request(stream, conn)
                except h11.RemoteProtocolError:
                    await _send(stream, conn, h11.Response(status_code=400, headers=[]))
                    return
                if request is None:
                    return
                if isinstance(request, HttpResponse):
                    response: HttpResponse | Reset | None = request
                else:
                    response = await _run_handler(stream, handler, request)
                if response is None:
                    return
                if isinstance(response, Reset):
                    _reset(stream)
                    return
                headers = [(k.encode(), v.encode()) for k, v in response.headers]
                headers.append((b"content-length", str(len(response.body)).encode()))
                await _send(
                    stream, conn, h11.Response(status_code=response.status, headers=headers)
                )
                await _send(stream, conn, h11.Data(data=response.body))
                await _send(stream, conn, h11.EndOfMessage())
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.LocalProtocolError):
            return


async def serve_http(
    handler: Handler,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``handler`` on ``host:port`` until cancelled; reports the base URL once listening."""
    listeners = await trio.open_tcp_listeners(port, host=host)
    sockname = listeners[0].socket.getsockname()
    bound_host = f"[{sockname[0]}]" if ":" in sockname[0] else sockname[0]
    url = f"http://{bound_host}:{sockname[1]}"

    async def on_connection(stream: trio.SocketStream) -> None:
        await _serve_connection(stream, handler)

    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, on_connection, listeners)
        task_status.started(url)
