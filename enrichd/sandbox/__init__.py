"""The sandbox: simulated upstream APIs in their real wire formats, for tests, demos and benchmarks.

Run it alone with ``enrichd sandbox --bind 127.0.0.1:8900`` or inside the daemon with
``enrichd serve --sandbox``.
"""

from ._faults import FaultRule
from ._http import Handler, HttpRequest, HttpResponse, Reset, json_response, serve_http
from ._limits import DEFAULT_LIMITS, UPSTREAMS, Limit
from ._server import (
    SANDBOX_API_KEY,
    SANDBOX_MODEL,
    SIMULATED_HEADER,
    Sandbox,
    SandboxOptions,
    run_sandbox,
    source_overrides,
    sources_toml,
)

__all__ = [
    "DEFAULT_LIMITS",
    "SANDBOX_API_KEY",
    "SANDBOX_MODEL",
    "SIMULATED_HEADER",
    "UPSTREAMS",
    "FaultRule",
    "Handler",
    "HttpRequest",
    "HttpResponse",
    "Limit",
    "Reset",
    "Sandbox",
    "SandboxOptions",
    "json_response",
    "run_sandbox",
    "serve_http",
    "source_overrides",
    "sources_toml",
]
