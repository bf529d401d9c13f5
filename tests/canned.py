"""A loopback HTTP server that answers canned responses, for testing source clients."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from enrichd.sandbox import HttpRequest, HttpResponse, Reset, json_response

Answer = HttpResponse | Reset | Callable[[HttpRequest], Awaitable[HttpResponse | Reset]]


class CannedServer:
    """Answers ``(method, path)`` with queued responses; records every request it gets.

    ``add`` queues answers for a route; the last one queued repeats once the others are used.
    Unknown routes get a 404 JSON body naming the route, so a test sees what was asked.
    """

    def __init__(self) -> None:
        self.url = ""
        self.requests: list[HttpRequest] = []
        self._routes: dict[tuple[str, str], list[Answer]] = {}

    def add(self, method: str, path: str, *answers: Answer) -> None:
        """Queue ``answers`` for ``method path``."""
        self._routes.setdefault((method.upper(), path), []).extend(answers)

    def json(self, method: str, path: str, payload: Any, status: int = 200, **headers: str) -> None:
        """Queue one JSON answer."""
        self.add(method, path, json_response(payload, status, list(headers.items())))

    def calls(self, path: str) -> list[HttpRequest]:
        """The requests received for ``path``."""
        return [r for r in self.requests if r.path == path]

    async def __call__(self, request: HttpRequest) -> HttpResponse | Reset:
        self.requests.append(request)
        queue = self._routes.get((request.method, request.path))
        if not queue:
            return json_response(
                {"error": f"no canned answer for {request.method} {request.path}"}, 404
            )
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, HttpResponse | Reset):
            return answer
        return await answer(request)
