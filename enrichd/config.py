"""Configuration: ``config.toml`` decoded into msgspec Structs; secrets from env or credentials.

Every section forbids unknown keys, so a typo stops start-up with a message naming the key instead
of being silently ignored.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

from .intel import IntelConfig

DEFAULT_BIND = "127.0.0.1:8080"
DEFAULT_DATA_DIR = "/var/lib/enrichd"


class ConfigError(Exception):
    """The configuration is invalid; the message names the offending key."""


class ServerConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``[server]``: where the API listens and how large a request may be."""

    bind: str = DEFAULT_BIND
    max_body_bytes: int = 1024 * 1024
    #: Seconds in-flight HTTP requests get to finish on shutdown.
    graceful_timeout_seconds: float = 5.0
    #: Requests per second each API client may make on average (0: no limit). A client is an
    #: API token once authenticated, otherwise the peer address; ``/healthz`` is not limited.
    rate_limit_per_second: float = 50.0
    #: Requests a client may make at once before the per-second rate applies.
    rate_limit_burst: int = 100


class StorageConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``[storage]``: the LMDB store."""

    path: str = DEFAULT_DATA_DIR
    #: Initial LMDB map size; the map doubles whenever it fills up.
    map_size_mb: int = 256


class AuthConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``[auth]``: accepted API tokens, as SHA-256 hex digests."""

    token_sha256: list[str] = msgspec.field(default_factory=list)


class JobsConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``[jobs]``: admission and limits."""

    max_concurrent_jobs: int = 10
    max_batch_domains: int = 1000
    default_batch_concurrency: int = 5
    max_batch_concurrency: int = 100
    #: A module running longer than this fails with ``timeout``.
    module_timeout_seconds: float = 300.0
    #: How long an ``Idempotency-Key`` is remembered.
    idempotency_ttl_seconds: int = 86400


class CacheConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``[cache]``: per-module TTL and stale-window overrides (durations like ``"7d"``)."""

    ttl: dict[str, str | int] = msgspec.field(default_factory=dict)
    stale_window: dict[str, str | int] = msgspec.field(default_factory=dict)


class PluginsConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``[plugins]``: which plugins load besides the installed entry points."""

    #: Entry-point names (group ``enrichd``) not to load, e.g. ``["builtin"]``; ``["*"]`` loads
    #: none, only ``modules`` (a test that wants exactly one plugin, whatever is installed).
    disable: list[str] = msgspec.field(default_factory=list)
    #: Extra plugin modules to import by dotted path (handy while writing a plugin).
    modules: list[str] = msgspec.field(default_factory=list)


class SourceSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``[sources.<name>]``: the keys every source has. ``None`` means the plugin's default."""

    base_url: str | None = None
    api_key: str | None = None
    rate_per_second: float | None = None
    burst: int | None = None
    daily_quota: int | None = None
    max_concurrency: int | None = None
    timeout_seconds: float | None = None
    max_retries: int | None = None
    circuit_failure_threshold: int | None = None
    circuit_reset_seconds: float | None = None
    enabled: bool = True


class LoggingConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``[logging]``."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    #: ``json`` lines, readable ``text``, or ``auto``: JSON when standard error is systemd's
    #: journal, text otherwise (a terminal, a pipe, a file).
    format: Literal["auto", "json", "text"] = "auto"


class Config(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The whole configuration."""

    server: ServerConfig = msgspec.field(default_factory=ServerConfig)
    storage: StorageConfig = msgspec.field(default_factory=StorageConfig)
    auth: AuthConfig = msgspec.field(default_factory=AuthConfig)
    jobs: JobsConfig = msgspec.field(default_factory=JobsConfig)
    cache: CacheConfig = msgspec.field(default_factory=CacheConfig)
    plugins: PluginsConfig = msgspec.field(default_factory=PluginsConfig)
    logging: LoggingConfig = msgspec.field(default_factory=LoggingConfig)
    #: Raw per-source tables; checked against each source's spec once plugins are loaded.
    sources: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    #: Raw per-module option tables, handed to the module as ``ctx.options``.
    modules: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    #: Sales-intelligence settings (modules m13-m15).
    intel: IntelConfig = msgspec.field(default_factory=IntelConfig)


_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: str | int, *, key: str) -> int:
    """Seconds in ``value``: an int of seconds or a string like ``"30d"``, ``"12h"``, ``"90s"``."""
    if isinstance(value, bool):
        raise ConfigError(f'{key}: expected a duration such as 3600 or "7d", got {value!r}')
    if isinstance(value, int):
        seconds = value
    else:
        m = _DURATION_RE.match(value)
        if not m:
            raise ConfigError(f'{key}: expected a duration such as 3600 or "7d", got {value!r}')
        seconds = int(float(m.group(1)) * _UNIT_SECONDS[m.group(2)])
    if seconds <= 0:
        raise ConfigError(f"{key}: a duration must be positive, got {value!r}")
    return seconds


def _check(config: Config) -> None:
    """Value checks msgspec's types cannot express."""
    host, sep, port = config.server.bind.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"server.bind: expected HOST:PORT, got {config.server.bind!r}")
    positive = {
        "server.max_body_bytes": config.server.max_body_bytes,
        "storage.map_size_mb": config.storage.map_size_mb,
        "jobs.max_concurrent_jobs": config.jobs.max_concurrent_jobs,
        "jobs.max_batch_domains": config.jobs.max_batch_domains,
        "jobs.default_batch_concurrency": config.jobs.default_batch_concurrency,
        "jobs.max_batch_concurrency": config.jobs.max_batch_concurrency,
        "jobs.module_timeout_seconds": config.jobs.module_timeout_seconds,
        "jobs.idempotency_ttl_seconds": config.jobs.idempotency_ttl_seconds,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{key}: must be positive, got {value!r}")
    _check_rate_limit(config.server)
    for digest in config.auth.token_sha256:
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ConfigError(
                "auth.token_sha256: each entry must be 64 lowercase hex digits "
                "(the SHA-256 of a token; `enrichd token create NAME` makes one)"
            )
    for section, table in (
        ("cache.ttl", config.cache.ttl),
        ("cache.stale_window", config.cache.stale_window),
    ):
        for module_id, duration in table.items():
            parse_duration(duration, key=f"{section}.{module_id}")


def _check_rate_limit(server: ServerConfig) -> None:
    """``server.rate_limit_*``: a finite rate (0 turns the limit off) and a burst of at least 1."""
    rate, burst = server.rate_limit_per_second, server.rate_limit_burst
    if not math.isfinite(rate) or rate < 0:
        raise ConfigError(
            "server.rate_limit_per_second: must be a number of requests per second, "
            f"or 0 for no limit; got {rate!r}"
        )
    if burst < 0 or (rate > 0 and burst < 1):
        raise ConfigError(
            f"server.rate_limit_burst: must be at least 1, got {burst!r} "
            "(to turn the limit off, set server.rate_limit_per_second = 0)"
        )


def _msgspec_path(message: str) -> str:
    """Turn msgspec's ``... - at `$.server.bind``` into a key path ``server.bind``."""
    m = re.search(r"at `\$\.?([^`]*)`", message)
    if not m:
        return ""
    return re.sub(r"\[(\d+)\]", r"[\1]", m.group(1))


def _name_table_keys(text: str | bytes, path: str) -> str:
    """Replace the ``[...]`` msgspec prints for a table key with the key that failed.

    msgspec does not say which key of a ``dict`` field (``[cache.ttl]``, ``[sources]``) held the
    bad value, so each entry is re-checked alone inside an otherwise empty document.
    """
    if "[...]" not in path:
        return path
    try:
        node: Any = msgspec.toml.decode(text)
    except msgspec.DecodeError:
        return path
    keys: list[str] = []
    named = ""
    for part in re.findall(r"\[[^\]]*\]|[^.\[]+", path):
        if part.startswith("[") and part != "[...]":
            return path  # a list index: its neighbours would be needed to re-check alone
        if part != "[...]":
            keys.append(part)
            named = f"{named}.{part}" if named else part
            node = node.get(part) if isinstance(node, dict) else None
            continue
        if not isinstance(node, dict):
            return path
        for key, value in node.items():
            doc: Any = {key: value}
            for outer in reversed(keys):
                doc = {outer: doc}
            try:
                msgspec.convert(doc, Config)
            except msgspec.ValidationError:
                break
        else:
            return path
        keys.append(key)
        named = f"{named}.{key}"
        node = value
    return named


def parse_config(text: str | bytes, *, origin: str = "config.toml") -> Config:
    """Decode and check a TOML document; raises :class:`ConfigError` naming the bad key."""
    try:
        config = msgspec.toml.decode(text, type=Config)
    except msgspec.ValidationError as exc:
        message = str(exc)
        unknown = re.match(r"Object contains unknown field `([^`]+)`", message)
        path = _name_table_keys(text, _msgspec_path(message))
        if unknown:
            key = f"{path}.{unknown.group(1)}" if path else unknown.group(1)
            raise ConfigError(f"{origin}: unknown key {key!r}") from None
        raise ConfigError(
            f"{origin}: {path or 'top level'}: {message.split(' - at ')[0]}"
        ) from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{origin}: not valid TOML: {exc}") from None
    try:
        _flatten_module_namespaces(config)
        _check(config)
    except ConfigError as exc:
        raise ConfigError(f"{origin}: {exc}") from None
    return config


def _flatten_module_namespaces(config: Config) -> None:
    """Read ``[modules.acme.score]`` as the table of the plugin module ``acme.score``.

    TOML splits an unquoted key at its dot, so a namespaced module id arrives as a table of
    tables under ``acme``. A bare name can never be a module id itself (ids are ``mNN_name`` or
    ``plugin.name``), so this reading is unambiguous; ``[modules."acme.score"]`` works as well.
    """
    flat: dict[str, dict[str, Any]] = {}
    for key, table in config.modules.items():
        namespace = "." not in key and not re.match(r"m\d{2}_", key)
        if not (namespace and table and all(isinstance(v, dict) for v in table.values())):
            flat[key] = table
            continue
        for name, sub in table.items():
            if f"{key}.{name}" in config.modules:
                raise ConfigError(f"modules.{key}.{name}: the module's table is given twice")
            flat[f"{key}.{name}"] = sub
    config.modules = flat


def load_config(path: str | os.PathLike[str] | None) -> Config:
    """Load the configuration from ``path`` or ``$ENRICHD_CONFIG``; defaults when neither is set."""
    chosen = path if path is not None else os.environ.get("ENRICHD_CONFIG")
    if chosen is None:
        return Config()
    p = Path(chosen)
    try:
        text = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {str(p)!r}: {exc.strerror}") from None
    return parse_config(text, origin=str(p))


def read_secret(credential_name: str, env_name: str, configured: str | None = None) -> str | None:
    """A secret from config, else the environment, else the systemd credential file.

    systemd's ``LoadCredential=`` puts credentials under ``$CREDENTIALS_DIRECTORY``; reading them
    there keeps keys out of the config file and the process environment.
    """
    if configured:
        return configured
    # Stripped before the test: a variable holding only whitespace must not hide the credential.
    value = os.environ.get(env_name, "").strip()
    if value:
        return value
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if creds:
        try:
            return (Path(creds) / credential_name).read_text().strip() or None
        except OSError:
            return None
    return None


class ResolvedSource(msgspec.Struct, kw_only=True, frozen=True):
    """A source's effective settings: the plugin's defaults overlaid with ``[sources.<name>]``."""

    name: str
    base_url: str
    api_key: str | None
    rate_per_second: float
    burst: int
    daily_quota: int | None
    max_concurrency: int
    timeout_seconds: float
    max_retries: int
    enabled: bool
    #: The source's own options (its spec's ``options_type``), already validated.
    options: Any = None
    #: Where the API key goes (the spec's ``auth``, unless its ``configure`` changed it).
    auth: tuple[str, str] | None = None
    #: Consecutive failed calls (5xx, timeouts, connection errors; after retries) that open the
    #: circuit.
    circuit_failure_threshold: int = 5
    #: How long an open circuit fails calls at once before one probe is let through.
    circuit_reset_seconds: float = 30.0


def split_source_table(
    name: str, table: Mapping[str, Any]
) -> tuple[SourceSettings, dict[str, Any]]:
    """Separate the common keys of ``[sources.<name>]`` from the source's own ones."""
    common_keys = set(SourceSettings.__struct_fields__)
    common = {k: v for k, v in table.items() if k in common_keys}
    rest = {k: v for k, v in table.items() if k not in common_keys}
    try:
        settings = msgspec.convert(common, SourceSettings)
    except msgspec.ValidationError as exc:
        path = _msgspec_path(str(exc))
        raise ConfigError(
            f"sources.{name}.{path}: {str(exc).split(' - at ')[0]}"
            if path
            else f"sources.{name}: {exc}"
        ) from None
    for key, value in (
        ("rate_per_second", settings.rate_per_second),
        ("burst", settings.burst),
        ("max_concurrency", settings.max_concurrency),
        ("timeout_seconds", settings.timeout_seconds),
        ("circuit_failure_threshold", settings.circuit_failure_threshold),
        ("circuit_reset_seconds", settings.circuit_reset_seconds),
    ):
        if value is not None and value <= 0:
            raise ConfigError(f"sources.{name}.{key}: must be positive, got {value!r}")
    for key, value in (
        ("daily_quota", settings.daily_quota),
        ("max_retries", settings.max_retries),
    ):
        if value is not None and value < 0:
            raise ConfigError(f"sources.{name}.{key}: must not be negative, got {value!r}")
    return settings, rest
