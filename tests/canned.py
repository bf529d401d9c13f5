"""A loopback HTTP server that answers canned responses, for testing source clients.

The implementation ships with enrichd for plugin authors (``enrichd.testing``); this module keeps
the import path enrichd's own tests use.
"""

from __future__ import annotations

from enrichd._testing_canned import Answer, BackgroundServer, CannedServer

__all__ = ["Answer", "BackgroundServer", "CannedServer"]
