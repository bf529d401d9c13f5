"""enrichd: a self-hosted company-domain enrichment daemon."""

__version__ = "0.1.0"
