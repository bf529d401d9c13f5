"""An example enrichd plugin: a company's mail provider from its public DNS records.

Installed, it registers through the ``enrichd`` entry point (see pyproject.toml) and adds:

- the sources ``example_doh`` (Google Public DNS, JSON API) and its fallback ``example_doh_cf``
  (Cloudflare), both keyless;
- the module ``example.mail_provider`` (wave 4): mail provider, security gateway, MX records and
  the services its SPF record lets send mail.

Each hook below is one of enrichd's hook specifications (docs/plugins.md).
"""

from __future__ import annotations

from enrichd.plugins import ModuleSpec, SourceSpec, hookimpl

from ._doh import CLOUDFLARE, GOOGLE, SOURCES, CloudflareOptions, DohOptions
from ._mail import MODULE, MODULE_ID, MailOptions

__all__ = [
    "CLOUDFLARE",
    "GOOGLE",
    "MODULE_ID",
    "CloudflareOptions",
    "DohOptions",
    "MailOptions",
    "enrichd_modules",
    "enrichd_plugin_api_version",
    "enrichd_sources",
]

#: The plugin API version this plugin was written against. A literal, not
#: ``enrichd.plugins.PLUGIN_API_VERSION``: the daemon compares the two and refuses the plugin,
#: with a message naming it, when an enrichd release changes the API incompatibly.
PLUGIN_API = 1


@hookimpl
def enrichd_plugin_api_version() -> int:
    """The plugin API version this plugin targets."""
    return PLUGIN_API


@hookimpl
def enrichd_sources() -> list[SourceSpec]:
    """The two DNS-over-HTTPS resolvers."""
    return list(SOURCES)


@hookimpl
def enrichd_modules() -> list[ModuleSpec]:
    """``example.mail_provider``."""
    return [MODULE]
