"""Canned upstreams for tests: a loopback HTTP server answering queued responses.

:class:`CannedServer` is the handler; serve it inside the test's own trio run
(``url = await nursery.start(serve_http, server)``), or from a background thread with
:class:`BackgroundServer` when the code under test runs elsewhere (a daemon subprocess) or the
test is synchronous.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from types import TracebackType
from typing import Any

import trio

from .sandbox import Handler, HttpRequest, HttpResponse, Reset, json_response, serve_http

__all__ = ["Answer", "BackgroundServer", "CannedServer"]

Answer = HttpResponse | Reset | Callable[[HttpRequest], Awaitable[HttpResponse | Reset]]


class _Route:
    """The answers queued for one method, path and (optional) set of query parameters."""

    def __init__(self, method: str, path: str, query: Mapping[str, str]) -> None:
        self.method = method
        self.path = path
        self.query = dict(query)
        self.answers: list[Answer] = []

    def matches(self, request: HttpRequest) -> bool:
        return (
            request.method == self.method
            and request.path == self.path
            and all(request.query.get(k) == v for k, v in self.query.items())
        )


class CannedServer:
    """Answers ``(method, path)`` with queued responses; records every request it gets.

    ``add`` queues answers for a route; the last one queued repeats once the others are used.
    ``query`` narrows a route to requests carrying those query parameters (the most specific
    matching route answers). Unknown routes get a 404 JSON body naming the route, so a test sees
    what was asked. Safe to fill from another thread than the one serving.
    """

    def __init__(self) -> None:
        self.url = ""
        self.requests: list[HttpRequest] = []
        self._routes: list[_Route] = []
        # The test thread queues answers while a background server's thread pops them.
        self._lock = threading.Lock()

    def add(
        self, method: str, path: str, *answers: Answer, query: Mapping[str, str] | None = None
    ) -> None:
        """Queue ``answers`` for ``method path`` (and, if given, those ``query`` parameters)."""
        method, wanted = method.upper(), dict(query or {})
        with self._lock:
            for route in self._routes:
                if (route.method, route.path, route.query) == (method, path, wanted):
                    route.answers.extend(answers)
                    return
            route = _Route(method, path, wanted)
            route.answers.extend(answers)
            self._routes.append(route)

    def json(
        self,
        method: str,
        path: str,
        payload: Any,
        status: int = 200,
        *,
        query: Mapping[str, str] | None = None,
        **headers: str,
    ) -> None:
        """Queue one JSON answer (``headers`` as keyword arguments)."""
        self.add(method, path, json_response(payload, status, list(headers.items())), query=query)

    def calls(self, path: str) -> list[HttpRequest]:
        """The requests received for ``path``."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def _next_answer(self, request: HttpRequest) -> Answer | None:
        with self._lock:
            self.requests.append(request)
            routes = [r for r in self._routes if r.matches(request) and r.answers]
            if not routes:
                return None
            route = max(routes, key=lambda r: len(r.query))  # max keeps the first of equals
            answers = route.answers
            return answers.pop(0) if len(answers) > 1 else answers[0]

    async def __call__(self, request: HttpRequest) -> HttpResponse | Reset:
        answer = self._next_answer(request)
        if answer is None:
            return json_response(
                {"error": f"no canned answer for {request.method} {request.path}"}, 404
            )
        if isinstance(answer, HttpResponse | Reset):
            return answer
        return await answer(request)


#: Something ``await nursery.start(task)`` starts and that reports its base URL.
ServeTask = Callable[..., Awaitable[Any]]


class BackgroundServer:
    """Serves ``handler`` on 127.0.0.1 from a thread running its own trio loop.

    ``with BackgroundServer(handler) as url:`` — for handlers that must answer while the test
    blocks (a synchronous test, a daemon subprocess). ``task=`` serves anything started with
    ``nursery.start`` that reports its URL instead (``task=sandbox.run``). Inside a trio test on
    an autojumping MockClock prefer serving in the test's own nursery: an answer from another
    thread takes real time, during which the mock clock would jump to the next timeout.
    """

    def __init__(
        self,
        handler: Handler | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        task: ServeTask | None = None,
    ) -> None:
        if task is None:
            if handler is None:
                raise TypeError("BackgroundServer needs a handler or a task")
            task = partial(serve_http, handler, host, port)
        elif handler is not None:
            raise TypeError("BackgroundServer takes a handler or a task, not both")
        self._task: ServeTask = task
        self.url = ""
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._scope: trio.CancelScope | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Start serving; the base URL once listening."""
        self._thread = threading.Thread(target=self._run, name="enrichd-test-server", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._error is not None:
            raise RuntimeError(f"the test server did not start: {self._error}") from self._error
        if not self.url:
            raise RuntimeError("the test server did not start within 30 s")
        return self.url

    def close(self) -> None:
        """Stop serving and wait for the thread (idempotent)."""
        if self._token is not None and self._scope is not None:
            # Thread-safe and non-blocking: works from any thread, a trio one included.
            self._token.run_sync_soon(self._scope.cancel)
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self._token = self._scope = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self) -> None:
        try:
            trio.run(self._serve)
        except BaseException as exc:  # reported to start(); a thread has nobody else to tell
            self._error = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        with trio.CancelScope() as scope:
            self._scope = scope
            self._token = trio.lowlevel.current_trio_token()
            async with trio.open_nursery() as nursery:
                self.url = await nursery.start(self._task)
                self._ready.set()
                await trio.sleep_forever()
