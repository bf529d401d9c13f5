"""The command-line client: ``enrichd enrich``, ``batch``, ``status``, ``results``, ``jobs``,
``cache``, ``cancel`` and ``retry`` drive a running daemon over its REST API.

Every command goes through :class:`enrichd.client.Client`; :func:`explain` is the one place that
turns the client's errors into an exit status and a one-line message saying what to do. Output
is a table on a terminal and JSON otherwise (``--format`` chooses); live progress bars
(:mod:`enrichd._cli_progress`) appear only when standard output is a terminal, so scripts read
one JSON document. Usage: docs/cli.md.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from .api._schemas import BatchResponse, JobCreated, JobStatusResponse, ResultsResponse
from .client import (
    Client,
    Conflict,
    EnrichdError,
    NotFound,
    RateLimited,
    Unauthorized,
    Unavailable,
    WaitTimeout,
    resolve_token,
)
from .config import ConfigError, load_config

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["DEFAULT_URL", "add_client_commands", "explain", "resolve_url"]

EXIT_OK = 0
#: The job (or a module asked for) failed or was cancelled, or waiting for it timed out.
EXIT_FAILED = 1
#: Bad arguments, or the daemon refused the request as it is (4xx other than 401/403/429).
EXIT_USAGE = 2
#: The daemon cannot serve now: unreachable, timed out, stopping (503), over the rate limit.
EXIT_UNAVAILABLE = 3
#: No token, an unreadable token file, or a token the daemon refuses (401/403).
EXIT_AUTH = 4
#: The shell's convention for a command stopped by Ctrl-C.
EXIT_INTERRUPTED = 130

URL_ENV = "ENRICHD_URL"
DEFAULT_URL = "http://127.0.0.1:8080"
TERMINAL = frozenset({"completed", "failed", "cancelled"})
_DONE_MODULE = frozenset({"completed", "cached"})

EPILOG = """\
exit status: 0 done (job completed), 1 the job failed, has failed modules or was cancelled
(or --wait-timeout passed), 2 bad arguments or a request the daemon refused (4xx),
3 daemon unreachable, timed out, stopping or rate limiting, 4 no or wrong API token.
The daemon's URL: --url, else $ENRICHD_URL, else server.bind of --config/$ENRICHD_CONFIG,
else http://127.0.0.1:8080. The token: --token-file, else $ENRICHD_API_TOKEN, else the
file named by $ENRICHD_API_TOKEN_FILE. See docs/cli.md."""


class UsageError(Exception):
    """A problem with the command line itself, found before asking the daemon (exit 2)."""


class _Stopped(Exception):
    """Ctrl-C while waiting; the message says how to pick the job up again (exit 130)."""


def stdout_is_terminal() -> bool:
    """Whether standard output is a terminal (bars and tables) or a file or pipe (JSON)."""
    return sys.stdout.isatty()


# --- the daemon's URL ----------------------------------------------------------------------------


def resolve_url(given: str | None, config_path: str | None) -> str:
    """The daemon's base URL: ``given`` (``--url``), else ``$ENRICHD_URL``, else the
    ``server.bind`` of the configuration (``--config`` or ``$ENRICHD_CONFIG``), else
    :data:`DEFAULT_URL`. A bare ``HOST:PORT`` gets ``http://``."""
    if given:
        return _normalise_url(given, "--url")
    if env := os.environ.get(URL_ENV, "").strip():
        return _normalise_url(env, f"${URL_ENV}")
    if config_path is None and not os.environ.get("ENRICHD_CONFIG"):
        return DEFAULT_URL
    return _url_from_config(config_path)


def _normalise_url(raw: str, origin: str) -> str:
    text = raw.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{origin}: expected a URL such as {DEFAULT_URL}, got {raw!r}")
    return text.rstrip("/")


def _url_from_config(config_path: str | None) -> str:
    """The URL a client reaches the daemon at, from the configuration's ``server.bind``."""
    try:
        bind = load_config(config_path).server.bind
    except ConfigError as exc:
        raise UsageError(
            f"{exc} (pass --url or set ${URL_ENV} to skip the configuration)"
        ) from None
    host, _, port = bind.rpartition(":")
    host = host.strip("[]")
    if port == "0":
        raise UsageError(
            f"server.bind {bind!r} lets the daemon pick a free port: pass --url with the URL "
            "it logged ('enrichd listening on ...')"
        )
    # A daemon listening on every address is reached on the loopback one.
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


# --- errors: exit status and message, in one place ------------------------------------------


@dataclass(frozen=True)
class _Context:
    """What an error message may mention: where the daemon is and what was asked."""

    url: str
    command: str = "COMMAND"
    domain: str | None = None
    token_given: bool = True
    wait_timeout: float | None = None


def _reason(exc: BaseException) -> str:
    """Why a connection failed, from the transport error behind the client's exception."""
    cause = exc.__cause__
    text = str(cause) if cause is not None else ""
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", text).strip() or type(cause or exc).__name__
    return text[:1].lower() + text[1:]


def explain(exc: EnrichdError, ctx: _Context) -> tuple[int, str]:
    """The exit status for ``exc`` and the one-line message saying what to do about it.

    The only mapping of :mod:`enrichd.client`'s errors to exit statuses: 1 for
    :class:`WaitTimeout`, 4 for :class:`Unauthorized`, 403 and token-file problems, 3 for
    :class:`Unavailable`, :class:`RateLimited`, other 5xx and answers that are not the daemon's,
    2 for every other refusal (:class:`NotFound`, :class:`Conflict`, 400, 413, 422...).
    """
    code, message = _classify(exc, ctx)
    return code, " ".join(message.split())


def _classify(exc: EnrichdError, ctx: _Context) -> tuple[int, str]:
    domain = ctx.domain or "DOMAIN"
    status = exc.status_code
    if isinstance(exc, WaitTimeout):
        return EXIT_FAILED, (
            f"{exc.message} after waiting {ctx.wait_timeout or 0:g} s; it keeps running in "
            f"the daemon — follow it with `enrichd status {domain} --wait`"
        )
    if exc.error.startswith("token_file"):
        return EXIT_AUTH, f"{exc.message} — fix --token-file / $ENRICHD_API_TOKEN_FILE"
    if isinstance(exc, Unauthorized):
        if not ctx.token_given:
            return EXIT_AUTH, (
                f"enrichd at {ctx.url} needs an API token — set $ENRICHD_API_TOKEN or pass "
                "--token-file (`enrichd token create NAME` makes one)"
            )
        return EXIT_AUTH, (
            f"enrichd at {ctx.url} refused the API token (HTTP 401) — check "
            "$ENRICHD_API_TOKEN / --token-file"
        )
    if status == 403:
        return EXIT_AUTH, f"forbidden: {exc.message} — this token may not do that"
    if isinstance(exc, RateLimited):
        wait = f"{exc.retry_after:g} s" if exc.retry_after is not None else "a moment"
        return EXIT_UNAVAILABLE, f"{exc.message} — over the daemon's rate limit; retry in {wait}"
    if isinstance(exc, Unavailable):
        return EXIT_UNAVAILABLE, _unavailable(exc, ctx)
    if status is None or status >= 500 or exc.error == "malformed_response":
        return EXIT_UNAVAILABLE, (
            f"enrichd at {ctx.url} failed: {exc.message} — check the daemon's log (and that "
            "--url points at an enrichd daemon)"
        )
    if isinstance(exc, NotFound):
        return EXIT_USAGE, f"{exc.message} — {_not_found_hint(exc, ctx.command, domain)}"
    if isinstance(exc, Conflict):
        return EXIT_USAGE, f"{exc.message} — {_conflict_hint(exc, domain)}"
    return EXIT_USAGE, (
        f"{exc.message} (HTTP {status} {exc.error}) — see `enrichd {ctx.command} --help`"
    )


def _unavailable(exc: Unavailable, ctx: _Context) -> str:
    if exc.error == "unreachable":
        return (
            f"cannot reach enrichd at {ctx.url}: {_reason(exc)} — is the daemon running? "
            f"(--url / ${URL_ENV})"
        )
    if exc.error == "timeout":
        return (
            f"enrichd at {ctx.url} did not answer in time — it may be overloaded; retry, or "
            "raise --timeout"
        )
    if exc.status_code == 503:
        return f"enrichd at {ctx.url} is unavailable: {exc.message} — retry in a moment"
    return f"{exc.message} — the proxy in front of enrichd got no answer; is the daemon running?"


def _not_found_hint(exc: NotFound, command: str, domain: str) -> str:
    if exc.error != "job_not_found":
        return "check the domain and --job-id"
    if command == "cancel":
        return f"nothing to cancel; `enrichd status {domain}` shows its latest job"
    if command == "results":
        return f"`enrichd status {domain}` shows whether its job is still running"
    return f"`enrichd enrich {domain}` starts one; `enrichd jobs` lists the jobs"


def _conflict_hint(exc: Conflict, domain: str) -> str:
    if exc.error == "job_active":
        return (
            f"follow it with `enrichd status {domain} --wait` or stop it with "
            f"`enrichd cancel {domain}`"
        )
    if exc.error == "nothing_to_retry":
        return f"to refresh every module run `enrichd enrich {domain} --force`"
    if exc.error == "job_finished":
        return "nothing to cancel"
    if exc.error == "idempotency_key_reused":
        return "use a new --idempotency-key for a different request"
    return "see `enrichd jobs`"


# --- output --------------------------------------------------------------------------------------


class _Output:
    """Where answers go: a rich table (``table``) or indented JSON (``json``) on stdout."""

    def __init__(self, fmt: str | None) -> None:
        self.terminal = stdout_is_terminal()
        self.format = fmt or ("table" if self.terminal else "json")
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        """The rich console on stdout (rich loads only for commands that render with it)."""
        if self._console is None:
            from ._cli_progress import make_console

            self._console = make_console(sys.stdout, terminal=self.terminal)
        return self._console

    def show(self, answer: msgspec.Struct, view: str) -> None:
        """Print ``answer``: as JSON, or through the table function ``view`` of
        :mod:`enrichd._cli_progress`."""
        if self.format == "json":
            text = msgspec.json.format(msgspec.json.encode(answer), indent=2).decode()
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
            return
        from . import _cli_progress

        self.console.print(getattr(_cli_progress, view)(answer))

    def note(self, text: str) -> None:
        """A line for the person at the terminal; nothing when stdout is a file or pipe."""
        if self.terminal:
            self.console.print(text, style="dim")


@dataclass
class _Session:
    """One command's client, output and arguments."""

    client: Client
    out: _Output
    args: argparse.Namespace


def _context(args: argparse.Namespace, url: str, token: str | None) -> _Context:
    return _Context(
        url=url,
        command=getattr(args, "command", None) or "COMMAND",
        domain=getattr(args, "domain", None),
        token_given=token is not None,
        wait_timeout=getattr(args, "wait_timeout", None),
    )


def _runner(command: Callable[[_Session], int]) -> Callable[[argparse.Namespace], int]:
    """``command`` with a client, and every error turned into an exit status and a message."""

    def run(args: argparse.Namespace) -> int:
        url = DEFAULT_URL
        token: str | None = None
        try:
            url = resolve_url(args.url, args.config)
            token = resolve_token(None, token_file=args.token_file)
            with Client(url, token, timeout=args.timeout) as client:
                return command(_Session(client, _Output(args.format), args))
        except UsageError as exc:
            return _fail(EXIT_USAGE, str(exc))
        except EnrichdError as exc:
            return _fail(*explain(exc, _context(args, url, token)))
        except _Stopped as exc:
            return _fail(EXIT_INTERRUPTED, str(exc))

    return run


def _fail(code: int, message: str) -> int:
    print(f"enrichd: {message}", file=sys.stderr)
    return code


# --- waiting -------------------------------------------------------------------------------------


def _follow(s: _Session, domain: str, job_id: str) -> JobStatusResponse:
    """Wait for the job to finish, with live bars on a terminal; its final status."""
    a = s.args
    try:
        if not s.out.terminal:
            return s.client.wait(domain, job_id, poll=a.poll, timeout=a.wait_timeout)
        from ._cli_progress import JobBars

        with JobBars(s.out.console, domain) as bars:
            return s.client.wait(
                domain, job_id, poll=a.poll, timeout=a.wait_timeout, on_status=bars.update
            )
    except KeyboardInterrupt:
        raise _Stopped(
            f"stopped waiting; job {job_id} keeps running in the daemon — "
            f"`enrichd status {domain} --wait` follows it, `enrichd cancel {domain}` stops it"
        ) from None


def _follow_batch(s: _Session, batch: BatchResponse) -> BatchResponse:
    """Poll the batch until every job is finished, with live bars on a terminal."""
    if not batch.jobs:
        return batch
    try:
        if not s.out.terminal:
            return _poll_batch(s, batch.batch_id, lambda _: None)
        from ._cli_progress import BatchBars

        with BatchBars(s.out.console, batch.batch_id, len(batch.jobs)) as bars:
            return _poll_batch(s, batch.batch_id, bars.update)
    except KeyboardInterrupt:
        raise _Stopped(
            f"stopped waiting; the jobs of batch {batch.batch_id} keep running in the daemon "
            "— `enrichd jobs --status running` lists them"
        ) from None


def _poll_batch(
    s: _Session, batch_id: str, on_update: Callable[[BatchResponse], object]
) -> BatchResponse:
    a = s.args
    deadline = None if a.wait_timeout is None else time.monotonic() + a.wait_timeout
    while True:
        batch = s.client.batch_status(batch_id)
        on_update(batch)
        unfinished = [j for j in batch.jobs if j.status not in TERMINAL]
        if not unfinished:
            return batch
        if deadline is not None and time.monotonic() >= deadline:
            raise WaitTimeout(
                f"{len(unfinished)} of the {len(batch.jobs)} jobs of batch {batch_id} "
                "are not finished",
                error="wait_timeout",
                details={"batch_id": batch_id},
            )
        time.sleep(a.poll if deadline is None else min(a.poll, deadline - time.monotonic()))


def _job_exit(status: JobStatusResponse) -> int:
    failed = status.status in ("failed", "cancelled") or status.modules_failed > 0
    return EXIT_FAILED if failed else EXIT_OK


def _started(s: _Session, job: JobCreated) -> int:
    """Show a job just started; with ``--wait``, follow it and show how it ended."""
    if not s.args.wait:
        s.out.show(job, "job_created_view")
        s.out.note(f"follow it with: enrichd status {job.domain} --wait")
        return EXIT_OK
    s.out.note(
        f"{job.domain}: job {job.job_id}, {len(job.modules)} modules, "
        f"about {job.estimated_time_seconds} s"
    )
    final = _follow(s, job.domain, job.job_id)
    s.out.show(final, "status_view")
    return _job_exit(final)


# --- commands ------------------------------------------------------------------------------------


def _split(values: Sequence[str] | None) -> list[str] | None:
    """Repeated and comma-separated option values as one list (None when not given)."""
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _waves(values: Sequence[str] | None) -> list[int] | None:
    parts = _split(values)
    if parts is None:
        return None
    try:
        return [int(p) for p in parts]
    except ValueError:
        raise UsageError(
            f"--wave: expected wave numbers 1-4, got {', '.join(values or [])!r}"
        ) from None


def _cmd_enrich(s: _Session) -> int:
    a = s.args
    job = s.client.start(
        a.domain,
        modules=_split(a.module),
        waves=_waves(a.wave),
        force=a.force,
        priority=a.priority,
        idempotency_key=a.idempotency_key,
    )
    return _started(s, job)


def read_domains(path: str) -> list[str]:
    """The domains of a batch file (``-``: standard input): one per line, ``#`` starts a
    comment, blank lines and repeats are skipped."""
    name = "<stdin>" if path == "-" else path
    try:
        # utf-8-sig: spreadsheets save text with a byte-order mark.
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
        text = raw.decode("utf-8-sig")
    except OSError as exc:
        raise UsageError(f"cannot read {name}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"cannot read {name}: not UTF-8 text ({exc.reason})") from None
    domains: dict[str, None] = {}
    for line in text.splitlines():
        domain = line.split("#", 1)[0].strip()
        if domain:
            domains.setdefault(domain, None)
    if not domains:
        raise UsageError(
            f"{name} has no domains (one per line; blank lines and # comments are skipped)"
        )
    return list(domains)


def _batch_exit(batch: BatchResponse) -> int:
    bad = batch.skipped or any(j.status in ("failed", "cancelled") for j in batch.jobs)
    return EXIT_FAILED if bad else EXIT_OK


def _cmd_batch(s: _Session) -> int:
    a = s.args
    batch = s.client.batch(
        read_domains(a.file),
        modules=_split(a.module),
        waves=_waves(a.wave),
        force=a.force,
        priority=a.priority,
        concurrency=a.concurrency,
        idempotency_key=a.idempotency_key,
    )
    for skip in batch.skipped:
        print(f"enrichd: skipped {skip.domain}: {skip.message} ({skip.reason})", file=sys.stderr)
    if a.wait:
        s.out.note(
            f"batch {batch.batch_id}: {len(batch.jobs)} jobs, "
            f"about {batch.estimated_time_seconds} s"
        )
        batch = _follow_batch(s, batch)
    s.out.show(batch, "batch_view")
    return _batch_exit(batch)


def _cmd_status(s: _Session) -> int:
    a = s.args
    status = s.client.status(a.domain, a.job_id)
    if a.wait and status.status not in TERMINAL:
        status = _follow(s, status.domain, status.job_id)
    s.out.show(status, "status_view")
    return _job_exit(status)


def _results_exit(results: ResultsResponse) -> int:
    # Only the modules asked for (--module) count; a cancelled job's unfinished modules are
    # "cancelled", so a cancelled job is never complete.
    complete = all(st.status in _DONE_MODULE for st in results.module_statuses.values())
    return EXIT_OK if complete else EXIT_FAILED


def _cmd_results(s: _Session) -> int:
    a = s.args
    results = s.client.results(a.domain, a.job_id, _split(a.module))
    s.out.show(results, "results_view")
    return _results_exit(results)


def _cmd_jobs(s: _Session) -> int:
    a = s.args
    s.out.show(s.client.jobs(a.domain, a.status, a.limit, a.offset), "jobs_view")
    return EXIT_OK


def _cmd_cache(s: _Session) -> int:
    s.out.show(s.client.cache(s.args.domain), "cache_view")
    return EXIT_OK


def _cmd_cancel(s: _Session) -> int:
    s.out.show(s.client.cancel(s.args.domain, s.args.job_id), "cancel_view")
    return EXIT_OK


def _cmd_retry(s: _Session) -> int:
    a = s.args
    job = s.client.retry(a.domain, a.failed_only, idempotency_key=a.idempotency_key)
    return _started(s, job)


# --- the parser ----------------------------------------------------------------------------------


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _connection(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("connection")
    g.add_argument("--url", help=f"the daemon's base URL (default: ${URL_ENV}, else server.bind)")
    g.add_argument(
        "--token-file",
        metavar="PATH",
        help="read the API token from PATH (default: $ENRICHD_API_TOKEN, $ENRICHD_API_TOKEN_FILE)",
    )
    g.add_argument("--config", help="config.toml whose server.bind gives the default URL")
    g.add_argument(
        "--timeout",
        type=_positive,
        default=30.0,
        metavar="S",
        help="seconds to wait for each answer (default 30)",
    )
    p.add_argument(
        "--format",
        choices=("json", "table"),
        help="output format (default: table on a terminal, json otherwise)",
    )


def _waiting(p: argparse.ArgumentParser, *, default: bool) -> None:
    g = p.add_argument_group("waiting")
    if default:
        g.add_argument(
            "--no-wait",
            dest="wait",
            action="store_false",
            help="start the jobs and return at once (default: wait, with progress bars)",
        )
    else:
        g.add_argument(
            "--wait",
            action="store_true",
            help="wait until the job finishes, with progress bars on a terminal",
        )
    g.add_argument(
        "--poll", type=_positive, default=1.0, metavar="S", help="seconds between polls (1)"
    )
    g.add_argument(
        "--wait-timeout",
        type=_positive,
        metavar="S",
        help="stop waiting after S seconds (exit 1; the job keeps running)",
    )


def _selection(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--wave",
        action="append",
        metavar="N",
        help="run only wave N (1-4); repeatable or comma-separated",
    )
    p.add_argument(
        "--module",
        action="append",
        metavar="ID",
        help="run only module ID (e.g. m03_traffic); repeatable or comma-separated",
    )
    p.add_argument("--force", action="store_true", help="bypass the cache: fetch everything anew")
    p.add_argument(
        "--priority", choices=("low", "normal", "high"), default="normal", help="queue priority"
    )
    _idempotency(p)


def _idempotency(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--idempotency-key",
        metavar="KEY",
        help="repeating a request with the same KEY within 24 h returns the first answer",
    )


def _job_id(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument("--job-id", metavar="ID", help=f"a specific job (default: {default})")


def add_client_commands(sub: Any) -> None:
    """Add the client commands to the ``enrichd`` parser's subcommands ``sub``."""

    def command(name: str, help_text: str, func: Callable[[_Session], int]) -> Any:
        p = sub.add_parser(
            name,
            help=help_text,
            description=help_text[:1].upper() + help_text[1:] + ".",
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _connection(p)
        p.set_defaults(func=_runner(func))
        return p

    p = command("enrich", "start enriching a domain (over the daemon's API)", _cmd_enrich)
    p.add_argument("domain", metavar="DOMAIN", help="a company domain, e.g. costco.com")
    _selection(p)
    _waiting(p, default=False)

    p = command("batch", "enrich every domain of a file, one per line, and wait", _cmd_batch)
    p.add_argument("file", metavar="FILE", help="the domains, one per line ('-': standard input)")
    _selection(p)
    p.add_argument("--concurrency", type=int, metavar="N", help="most jobs of it run at once")
    _waiting(p, default=True)

    p = command("status", "a job's progress, module by module", _cmd_status)
    p.add_argument("domain", metavar="DOMAIN")
    _job_id(p, "the latest job")
    _waiting(p, default=False)

    p = command("results", "the data a finished job collected", _cmd_results)
    p.add_argument("domain", metavar="DOMAIN")
    _job_id(p, "the latest finished job")
    p.add_argument("--module", action="append", metavar="ID", help="only these modules; repeatable")

    p = command("jobs", "list jobs, newest first", _cmd_jobs)
    p.add_argument("--domain", help="only the jobs of this domain")
    p.add_argument(
        "--status", choices=sorted(TERMINAL | {"queued", "running"}), help="only jobs in it"
    )
    p.add_argument("--limit", type=int, default=50, help="jobs per page, 1-100 (default 50)")
    p.add_argument("--offset", type=int, default=0, help="jobs to skip (default 0)")

    p = command("cache", "each module's cached data for a domain and its freshness", _cmd_cache)
    p.add_argument("domain", metavar="DOMAIN")

    p = command("cancel", "cancel a domain's queued or running job", _cmd_cancel)
    p.add_argument("domain", metavar="DOMAIN")
    _job_id(p, "the active job")

    p = command("retry", "re-run the modules that failed in a domain's latest job", _cmd_retry)
    p.add_argument("domain", metavar="DOMAIN")
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--failed-only",
        dest="failed_only",
        action="store_true",
        default=True,
        help="only the failed modules and those they held up (the default)",
    )
    which.add_argument(
        "--all",
        dest="failed_only",
        action="store_false",
        help="every module of that job",
    )
    _idempotency(p)
    _waiting(p, default=False)
