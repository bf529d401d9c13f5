"""Errors the engine reports to API clients: a machine code, a message and an HTTP status."""

from __future__ import annotations

from typing import Any


class EngineError(Exception):
    """A request the engine refuses; the API turns it into ``{"error", "message", "details"}``."""

    status_code = 400

    def __init__(self, code: str, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


class NotFound(EngineError):
    """The job, batch or domain history asked for does not exist (404)."""

    status_code = 404


class Conflict(EngineError):
    """The request contradicts the current state, e.g. a job is already active (409)."""

    status_code = 409


class Invalid(EngineError):
    """The request is well-formed but its values are not acceptable (422)."""

    status_code = 422


class Unavailable(EngineError):
    """The daemon cannot take the request now, e.g. while shutting down (503)."""

    status_code = 503
