"""The REST API: a Quart-Trio application over the engine."""

from ._app import create_app, error_response, json_response
from ._auth import Authenticator, hash_token, new_token

__all__ = [
    "Authenticator",
    "create_app",
    "error_response",
    "hash_token",
    "json_response",
    "new_token",
]
