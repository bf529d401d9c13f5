"""The sandbox: simulated upstream APIs in their real wire formats, for tests, demos and benchmarks.

Run it alone with ``enrichd sandbox --bind 127.0.0.1:8900`` or inside the daemon with
``enrichd serve --sandbox``.
"""

from ._http import Handler, HttpRequest, HttpResponse, Reset, json_response, serve_http

__all__ = ["Handler", "HttpRequest", "HttpResponse", "Reset", "json_response", "serve_http"]
