"""Bearer-token authentication. Tokens are only ever stored as SHA-256 hex digests."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

from ..config import Config, read_secret
from ..daemon._store import Store

log = logging.getLogger("enrichd.auth")


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random API token."""
    return "enr_" + secrets.token_urlsafe(32)


class Authenticator:
    """Checks ``Authorization: Bearer`` headers against config, env/credential and stored tokens."""

    def __init__(self, config: Config, store: Store) -> None:
        self._store = store
        self._static = list(config.auth.token_sha256)
        env_token = read_secret("api-token", "ENRICHD_API_TOKEN")
        if env_token:
            self._static.append(hash_token(env_token))

    def has_tokens(self) -> bool:
        """Whether any token could ever be accepted."""
        return bool(self._static) or bool(self._store.tokens())

    def check(self, header: str | None) -> str | None:
        """The token's name if ``header`` carries a valid bearer token, else None."""
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        digest = hash_token(token)
        # compare_digest over every configured hash: no early exit that timing could reveal.
        matched = False
        for known in self._static:
            matched |= hmac.compare_digest(digest, known)
        if matched:
            return "config"
        record = self._store.get_token(digest)
        return record.name if record is not None else None
