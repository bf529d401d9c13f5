"""The ``enrichd`` command line: ``serve``, ``token create``, ``plugins``."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import msgspec
import trio

from . import __version__
from .config import Config, ConfigError, load_config


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Hypercorn's own "Running on" line duplicates ours.
    logging.getLogger("hypercorn.error").setLevel(logging.WARNING)


def _config(args: argparse.Namespace) -> Config:
    config = load_config(args.config)
    if getattr(args, "bind", None):
        config.server.bind = args.bind
    if getattr(args, "data_dir", None):
        config.storage.path = args.data_dir
    return msgspec.convert(msgspec.to_builtins(config), Config)


def _cmd_serve(args: argparse.Namespace) -> int:
    from .daemon._server import serve

    config = _config(args)
    _setup_logging(config.logging.level)
    trio.run(serve, config)
    return 0


def _cmd_token_create(args: argparse.Namespace) -> int:
    from .api._auth import hash_token, new_token
    from .daemon._records import TokenRecord
    from .daemon._store import PutToken, Store

    config = _config(args)
    store = Store(config.storage.path, map_size=config.storage.map_size_mb * 1024 * 1024)
    try:
        token = new_token()
        import time

        store.write_now(
            [PutToken(hash_token(token), TokenRecord(name=args.name, created_at=time.time()))]
        )
    finally:
        store.close()
    print(token)
    print(
        f"token {args.name!r} stored (as its SHA-256) in {config.storage.path}; "
        "it is shown only this once",
        file=sys.stderr,
    )
    return 0


def _cmd_plugins(args: argparse.Namespace) -> int:
    from .plugins import load_plugins

    config = _config(args)
    registry = load_plugins(disable=config.plugins.disable, extra_modules=config.plugins.modules)
    for info in registry.plugins:
        print(f"{info.name:20} {info.status:9} {info.origin}")
        if info.error:
            print(f"    error: {info.error}")
        if info.sources:
            print(f"    sources: {', '.join(info.sources)}")
        if info.modules:
            print(f"    modules: {', '.join(info.modules)}")
    return 1 if any(p.status == "failed" for p in registry.plugins) else 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``enrichd`` command."""
    parser = argparse.ArgumentParser(prog="enrichd", description="Company-domain enrichment daemon")
    parser.add_argument("--version", action="version", version=f"enrichd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", help="path to config.toml (default: $ENRICHD_CONFIG)")
        p.add_argument("--data-dir", help="the LMDB data directory (overrides storage.path)")

    p = sub.add_parser("serve", help="run the daemon")
    common(p)
    p.add_argument("--bind", help="HOST:PORT to listen on (port 0 picks a free one)")
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("token", help="manage API tokens")
    token_sub = p.add_subparsers(dest="token_command", required=True)
    p = token_sub.add_parser("create", help="create a token; prints it once, stores its hash")
    common(p)
    p.add_argument("name", help="a name for the token, e.g. the client using it")
    p.set_defaults(func=_cmd_token_create)

    p = sub.add_parser("plugins", help="list plugins, their sources and modules, and failures")
    common(p)
    p.set_defaults(func=_cmd_plugins)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``enrichd`` console script."""
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
        return result
    except ConfigError as exc:
        print(f"enrichd: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from .daemon._store import StoreError
        from .plugins._manager import PluginConfigError

        if isinstance(exc, StoreError | PluginConfigError):
            print(f"enrichd: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
