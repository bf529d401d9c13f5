"""The ``enrichd`` command line: ``serve``, ``token create``, ``case-studies``, ``plugins``,
``backup``, and the API client commands of :mod:`enrichd._cli_client` (``enrich``...)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import msgspec
import trio

from . import __version__
from ._cli_client import add_client_commands
from ._logging import setup_logging
from .config import Config, ConfigError, load_config


def _config(args: argparse.Namespace) -> Config:
    config = load_config(args.config)
    if getattr(args, "bind", None):
        config.server.bind = args.bind
    if getattr(args, "data_dir", None):
        config.storage.path = args.data_dir
    return msgspec.convert(msgspec.to_builtins(config), Config)


def _sandbox_options(args: argparse.Namespace, bind: str | None) -> Any:
    """The sandbox's options from the command line; a bad value is a :class:`ConfigError`."""
    from .sandbox import Limit, SandboxOptions

    host, port = "127.0.0.1", 0
    if bind:
        host, _, port_text = bind.rpartition(":")
        if not host or not port_text.isdigit():
            raise ConfigError(f"--bind: expected HOST:PORT, got {bind!r}")
        host, port = host.strip("[]"), int(port_text)
    limits: dict[str, Any] = {}
    for text in args.limit or ():
        name, sep, value = text.partition("=")
        rate, _, burst = value.partition("/")
        try:
            if not sep:
                raise ValueError("expected UPSTREAM=RATE[/BURST]")
            limits[name] = Limit(
                rate_per_second=None if rate == "none" else float(rate),
                burst=int(burst) if burst else None,
            )
        except ValueError as exc:
            raise ConfigError(f"--limit {text!r}: {exc}") from None
    try:
        return SandboxOptions(
            host=host,
            port=port,
            latency=args.latency,
            jitter=args.jitter,
            fault_rate=args.fault_rate,
            seed=args.seed,
            limits=limits,
        )
    except ValueError as exc:
        raise ConfigError(f"sandbox: {exc}") from None


def _cmd_serve(args: argparse.Namespace) -> int:
    from .daemon._server import serve

    config = _config(args)
    sandbox = _sandbox_options(args, None) if args.sandbox else None
    setup_logging(config.logging.level, config.logging.format)
    # A reload (SIGHUP) reads the configuration exactly as start-up did.
    trio.run(partial(serve, config, sandbox=sandbox, reload_config=partial(_config, args)))
    return 0


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from .sandbox import run_sandbox

    options = _sandbox_options(args, args.bind)
    setup_logging("info")
    trio.run(run_sandbox, options)
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


def _case_study_format(path: str, given: str | None, *, default: str | None) -> str | None:
    """``--format``, else the file's extension, else ``default`` (None: unknown; say so)."""
    if given:
        return given
    suffix = Path(path).suffix.lower().removeprefix(".")
    if suffix in ("csv", "json"):
        return suffix
    if default is None:
        print(
            f"enrichd: cannot tell the format of {path!r}: pass --format csv or --format json",
            file=sys.stderr,
        )
    return default


def _read_text(path: str) -> str | None:
    """The UTF-8 text of ``path`` (``-``: standard input), or None having said why not."""
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
        # utf-8-sig: spreadsheets often save CSV with a byte-order mark.
        return raw.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"enrichd: cannot read {path if path != '-' else '<stdin>'}: {exc}", file=sys.stderr)
        return None


def _cmd_case_studies_import(args: argparse.Namespace) -> int:
    import time

    from .casestudies import CaseStudyImportError, parse_csv, parse_json
    from .daemon._store import DeleteAllCaseStudies, Op, PutCaseStudy, Store

    fmt = _case_study_format(args.file, args.format, default=None)
    config = _config(args)
    text = _read_text(args.file) if fmt is not None else None
    if text is None:
        return 2
    parse = parse_csv if fmt == "csv" else parse_json
    try:
        records = parse(text, intel=config.intel, now=time.time())
    except CaseStudyImportError as exc:
        name = "<stdin>" if args.file == "-" else args.file
        for line in exc.errors:
            print(f"{name}: {line}", file=sys.stderr)
        print(f"enrichd: {len(exc.errors)} error(s); nothing was imported", file=sys.stderr)
        return 2
    store = Store(config.storage.path, map_size=config.storage.map_size_mb * 1024 * 1024)
    try:
        existing = {s.id: s for s in store.list_case_studies()}
        ops: list[Op] = [DeleteAllCaseStudies()] if args.replace else []
        for record in records:
            old = existing.get(record.id)
            if old is not None:
                # The same case study, updated: it keeps the time it was first recorded.
                record = msgspec.structs.replace(record, created_at=old.created_at)
            ops.append(PutCaseStudy(record))
        # One transaction: a crash or a full disk leaves the old database or the new, never half.
        store.write_now(ops)
    finally:
        store.close()
    print(f"imported {len(records)} case studies")
    if args.replace:
        removed = len(set(existing) - {r.id for r in records})
        print(f"removed {removed} case studies not in the file", file=sys.stderr)
    return 0


def _cmd_case_studies_export(args: argparse.Namespace) -> int:
    from .casestudies import to_csv, to_json
    from .daemon._store import Store

    target = args.file or "-"
    fmt = _case_study_format(target, args.format, default="csv" if target == "-" else None)
    if fmt is None:
        return 2
    config = _config(args)
    store = Store(config.storage.path, map_size=config.storage.map_size_mb * 1024 * 1024)
    try:
        records = store.list_case_studies()
    finally:
        store.close()
    text = to_csv(records) if fmt == "csv" else to_json(records)
    if target == "-":
        sys.stdout.write(text)
        return 0
    try:
        with open(target, "w", encoding="utf-8", newline="") as out:
            out.write(text)
    except OSError as exc:
        print(f"enrichd: cannot write {target}: {exc}", file=sys.stderr)
        return 2
    print(f"exported {len(records)} case studies to {target}", file=sys.stderr)
    return 0


def _size(n: int) -> str:
    """``n`` bytes for people: 512 B, 12.3 KiB, 4.0 MiB."""
    if n < 1024:
        return f"{n} B"
    value = n / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _cmd_backup(args: argparse.Namespace) -> int:
    from .daemon._store import backup

    config = _config(args)
    # No data-directory lock: LMDB copies from a read transaction, safe beside a running daemon.
    result = backup(config.storage.path, args.path)
    counts = [
        f"{result.entries.get(db, 0)} {noun if result.entries.get(db, 0) == 1 else plural}"
        for db, noun, plural in (
            ("jobs", "job", "jobs"),
            ("cache", "cache entry", "cache entries"),
            ("case_studies", "case study", "case studies"),
            ("tokens", "API token", "API tokens"),
        )
    ]
    print(f"wrote {result.data_file} ({_size(result.size)}, compacted): {', '.join(counts)}")
    print(
        f"restore: stop enrichd, then replace {config.storage.path}/enrichd.lmdb with "
        f"{result.data_file.parent} (or run with --data-dir {args.path})",
        file=sys.stderr,
    )
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from .daemon._check import check_store
    from .daemon._store import Store

    config = _config(args)
    # Reads only, in one read transaction: safe beside a running daemon.
    store = Store(config.storage.path, map_size=config.storage.map_size_mb * 1024 * 1024)
    try:
        problems = check_store(store)
        jobs = store.stats()["entries"].get("jobs", 0)
    finally:
        store.close()
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) in {config.storage.path}", file=sys.stderr)
        return 1
    print(f"{config.storage.path}: consistent ({jobs} jobs)")
    return 0


def _cmd_plugins(args: argparse.Namespace) -> int:
    """List the plugins this configuration loads, or (``--url``) those a running daemon loaded,
    with their run-time errors; exit 1 when one failed."""
    if args.url:
        return _running_plugins(args.url)
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
    # The same check as start-up: a [modules.<id>] table its module's options_type refuses.
    registry.check_module_options(config.modules)
    return 1 if any(p.status == "failed" for p in registry.plugins) else 0


def _running_plugins(url: str) -> int:
    """``enrichd plugins --url``: the plugins of the daemon at ``url``, from its ``/healthz``."""
    from .client import Client, EnrichdError

    try:
        with Client(url) as client:
            health = client.health()
    except EnrichdError as exc:
        print(f"enrichd: {exc}", file=sys.stderr)
        return 2
    failing = False
    for info in health.get("plugins", []):
        print(f"{info['name']:20} {info['status']}")
        if info.get("error"):
            print(f"    error: {info['error']}")
        if info.get("modules"):
            print(f"    modules: {', '.join(info['modules'])}")
        if info.get("runtime_errors"):
            print(
                f"    run-time errors: {info['runtime_errors']} "
                f"(last: {info.get('last_runtime_error')})"
            )
        failing = failing or info["status"] == "failed" or bool(info.get("runtime_errors"))
    return 1 if failing else 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``enrichd`` command."""
    parser = argparse.ArgumentParser(prog="enrichd", description="Company-domain enrichment daemon")
    parser.add_argument("--version", action="version", version=f"enrichd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def sandbox_flags(p: argparse.ArgumentParser) -> None:
        g = p.add_argument_group("sandbox")
        g.add_argument("--latency", type=float, default=0.0, help="seconds added to each answer")
        g.add_argument("--jitter", type=float, default=0.0, help="± seconds of random latency")
        g.add_argument(
            "--fault-rate", type=float, default=0.0, help="share of answers that fail (0-1)"
        )
        g.add_argument("--seed", type=int, default=None, help="seed of latency and faults")
        g.add_argument(
            "--limit",
            action="append",
            metavar="UPSTREAM=RATE[/BURST]",
            help="an upstream's rate limit in requests/s ('none': unlimited); repeatable",
        )

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", help="path to config.toml (default: $ENRICHD_CONFIG)")
        p.add_argument("--data-dir", help="the LMDB data directory (overrides storage.path)")

    p = sub.add_parser("serve", help="run the daemon")
    common(p)
    p.add_argument("--bind", help="HOST:PORT to listen on (port 0 picks a free one)")
    p.add_argument(
        "--sandbox",
        action="store_true",
        help="run the simulated upstream APIs in-process and point every source at them "
        "(no keys, no internet; results are simulated)",
    )
    sandbox_flags(p)
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser(
        "sandbox", help="serve the simulated upstream APIs (BuiltWith, SimilarWeb, Yahoo, ...)"
    )
    p.add_argument("--bind", default="127.0.0.1:8900", help="HOST:PORT (default 127.0.0.1:8900)")
    sandbox_flags(p)
    p.set_defaults(func=_cmd_sandbox)

    p = sub.add_parser("token", help="manage API tokens")
    token_sub = p.add_subparsers(dest="token_command", required=True)
    p = token_sub.add_parser("create", help="create a token; prints it once, stores its hash")
    common(p)
    p.add_argument("name", help="a name for the token, e.g. the client using it")
    p.set_defaults(func=_cmd_token_create)

    p = sub.add_parser("case-studies", help="import and export the internal case-study database")
    cs_sub = p.add_subparsers(dest="case_studies_command", required=True)
    p = cs_sub.add_parser(
        "import",
        help="import case studies from CSV or JSON (all or nothing; upserts by id)",
    )
    common(p)
    p.add_argument("file", metavar="FILE", help="the file to read ('-': standard input)")
    p.add_argument(
        "--format", choices=("csv", "json"), help="the file's format (default: its extension)"
    )
    p.add_argument(
        "--replace",
        action="store_true",
        help="delete every existing case study first (in the same transaction)",
    )
    p.set_defaults(func=_cmd_case_studies_import)
    p = cs_sub.add_parser("export", help="write every case study as CSV or JSON")
    common(p)
    p.add_argument("file", metavar="FILE", nargs="?", help="the file to write (default: stdout)")
    p.add_argument(
        "--format",
        choices=("csv", "json"),
        help="the format (default: FILE's extension; csv on standard output)",
    )
    p.set_defaults(func=_cmd_case_studies_export)

    p = sub.add_parser("plugins", help="list plugins, their sources and modules, and failures")
    common(p)
    p.add_argument(
        "--url",
        help="ask the daemon running at URL instead (its /healthz): also lists the run-time "
        "errors (plugin_error) of each plugin's modules",
    )
    p.set_defaults(func=_cmd_plugins)

    p = sub.add_parser(
        "backup",
        help="copy the store to PATH: consistent and compacted, safe while the daemon runs",
    )
    common(p)
    p.add_argument("path", metavar="PATH", help="a new or empty directory for the copy")
    p.set_defaults(func=_cmd_backup)

    p = sub.add_parser(
        "check", help="check the store's records and indexes agree (exit 1 on a problem)"
    )
    common(p)
    p.set_defaults(func=_cmd_check)

    # The client commands (enrich, batch, status, results, jobs, cache, cancel, retry).
    add_client_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``enrichd`` console script."""
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
        return result
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        message = _refusal(exc)
        if message is None:
            raise
        print(f"enrichd: {message}", file=sys.stderr)
        return 2


def _refusal(exc: BaseException) -> str | None:
    """The message of an error that refuses to run (bad config, store, plugins), else None."""
    from .daemon._store import StoreError
    from .plugins._manager import PluginConfigError

    # `serve` builds the engine inside its nurseries, which wrap the error in a group.
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    if isinstance(exc, ConfigError):
        return f"configuration error: {exc}"
    if isinstance(exc, StoreError | PluginConfigError):
        return str(exc)
    return None


if __name__ == "__main__":
    sys.exit(main())
