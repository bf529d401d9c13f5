"""The command-line client (``enrichd enrich``, ``batch``, ``status``...) against a real daemon.

One ``enrichd serve --sandbox`` subprocess serves the whole module; each test drives the CLI
in-process (``enrichd.cli.main``) over real HTTP, with its own domains so tests do not meet each
other's jobs. The sandbox answers instantly; domains ``unknown-*`` are known to no upstream, so
their jobs finish with failed modules. Standard output is captured (not a terminal), so the
commands print JSON and no bars unless a test makes them believe otherwise.
"""

from __future__ import annotations

import io
import json
import re
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from enrichd import _cli_client
from enrichd._cli_client import explain, read_domains, resolve_url
from enrichd.cli import main
from enrichd.client import (
    Client,
    Conflict,
    EnrichdError,
    NotFound,
    RateLimited,
    Unauthorized,
    Unavailable,
    WaitTimeout,
)
from tests.canned import CannedServer
from tests.e2e._daemon import TOKEN, Daemon, sandbox_args, sandbox_config

FAST = ("--poll", "0.05")
ANSI = "\x1b["
BAR = "━"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One sandboxed daemon for the module (starting one takes about a second)."""
    root = tmp_path_factory.mktemp("cli")
    # Tests poll every 50 ms: no API rate limit to trip over.
    sandbox_config(root / "config.toml", extra="[server]\nrate_limit_per_second = 0\n")
    d = Daemon(root / "config.toml", root / "data", *sandbox_args(latency=0, jitter=0, seed=1))
    d.start()
    yield d
    d.stop(kill=True)


@pytest.fixture(autouse=True)
def env(daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Point the CLI at the daemon with its token; nothing else from the caller's shell."""
    monkeypatch.setenv("ENRICHD_URL", daemon.url)
    monkeypatch.setenv("ENRICHD_API_TOKEN", TOKEN)
    for name in ("ENRICHD_API_TOKEN_FILE", "ENRICHD_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``enrichd ARGV``: its exit status, stdout and stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    """Run ``enrichd ARGV`` whose stdout must be exactly one JSON document."""
    code, out, _ = cli(capsys, *argv)
    assert ANSI not in out and BAR not in out, out
    return code, json.loads(out)


def one_line(err: str) -> str:
    """The single error line on stderr."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("enrichd: ")
    return lines[0]


def sandbox_url(daemon: Daemon) -> str:
    for line in daemon.log:
        if m := re.search(r"simulated upstream APIs on (http://[^\s;]+)", line):
            return m.group(1)
    raise AssertionError("the daemon did not log its sandbox URL")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- enrich, status, results --------------------------------------------------------------------


def test_enrich_prints_the_started_job_and_status_waits_for_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, job = cli_json(capsys, "enrich", "costco.com", "--wave", "1", "--priority", "high")
    assert code == 0
    assert job["domain"] == "costco.com"
    assert job["modules"] == ["m01_company_context", "m02_tech_stack"]
    assert job["priority"] == "high"
    code, status = cli_json(capsys, "status", "costco.com", "--wait", *FAST)
    assert code == 0
    assert status["job_id"] == job["job_id"]
    assert status["status"] == "completed"


def test_enrich_wait_exits_0_with_the_final_status_as_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, status = cli_json(
        capsys, "enrich", "target.com", "--module", "m01_company_context,m02_tech_stack",
        "--force", "--wait", *FAST,
    )  # fmt: skip
    assert code == 0
    assert status["status"] == "completed"
    assert status["force"] is True
    modules = [m["module_id"] for w in status["waves"] for m in w["modules"]]
    assert modules == ["m01_company_context", "m02_tech_stack"]


def test_a_job_with_failed_modules_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, status = cli_json(capsys, "enrich", "unknown-acme.com", "--wave", "2", "--wait", *FAST)
    assert code == 1
    assert status["status"] == "failed"
    assert status["modules_failed"] == 4
    # status and results of that job say the same.
    assert cli_json(capsys, "status", "unknown-acme.com")[0] == 1
    code, results = cli_json(capsys, "results", "unknown-acme.com")
    assert code == 1
    assert set(results["failed_modules"]) == {
        "m03_traffic",
        "m04_traffic_sources",
        "m05_competitors",
        "m06_keywords",
    }
    # Only the modules asked for count.
    code, _ = cli_json(capsys, "results", "unknown-acme.com", "--module", "m03_traffic")
    assert code == 1
    code, _ = cli_json(capsys, "results", "unknown-acme.com", "--module", "m01_company_context")
    assert code == 0


def test_results_as_json_and_as_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "enrich", "walmart.com", "--wave", "1", "--wait", *FAST)[0] == 0
    code, results = cli_json(capsys, "results", "walmart.com", "--format", "json")
    assert code == 0
    assert set(results["results"]) == {"m01_company_context", "m02_tech_stack"}
    assert results["results"]["m01_company_context"]["domain"] == "walmart.com"
    code, results = cli_json(
        capsys, "results", "walmart.com", "--module", "m02_tech_stack", "--format", "json"
    )
    assert list(results["module_statuses"]) == ["m02_tech_stack"]

    code, out, err = cli(capsys, "results", "walmart.com", "--format", "table")
    assert code == 0 and err == ""
    assert ANSI not in out  # a table, but no colours into a pipe
    assert "m01_company_context" in out and "company_name" in out
    # Citation titles are data, not rich markup: the sandbox's label survives.
    assert "[sandbox: simulated]" in out


def test_status_as_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "enrich", "bestbuy.com", "--wave", "1", "--wait", *FAST)[0] == 0
    code, out, _ = cli(capsys, "status", "bestbuy.com", "--format", "table")
    assert code == 0
    assert "completed" in out
    assert re.search(r"1 .*m01_company_context .*completed", out)
    assert "100% (2/2 modules)" in out


# --- jobs, cache, cancel, retry -----------------------------------------------------------------


def test_jobs_with_filters(capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(2):
        assert cli(capsys, "enrich", "homedepot.com", "--wave", "1", "--wait", *FAST)[0] == 0
    code, listing = cli_json(
        capsys, "jobs", "--domain", "homedepot.com", "--status", "completed", "--limit", "1"
    )
    assert code == 0
    assert listing["total"] == 2 and listing["limit"] == 1
    assert [j["domain"] for j in listing["jobs"]] == ["homedepot.com"]
    code, page2 = cli_json(capsys, "jobs", "--domain", "homedepot.com", "--offset", "1")
    assert [j["job_id"] for j in page2["jobs"]] != [j["job_id"] for j in listing["jobs"]]
    code, out, _ = cli(capsys, "jobs", "--domain", "homedepot.com", "--format", "table")
    assert code == 0
    assert "jobs 1-2 of 2" in out


def test_cache(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "enrich", "lowes.com", "--wave", "1", "--wait", *FAST)[0] == 0
    code, cache = cli_json(capsys, "cache", "lowes.com")
    assert code == 0
    fresh = {m["module_id"] for m in cache["modules"] if m["freshness"] == "fresh"}
    assert fresh == {"m01_company_context", "m02_tech_stack"}
    code, out, _ = cli(capsys, "cache", "lowes.com", "--format", "table")
    assert code == 0
    assert re.search(r"m01_company_context .*fresh", out)
    assert re.search(r"m03_traffic .*missing", out)


@pytest.fixture
def hanging_similarweb(daemon: Daemon) -> Iterator[None]:
    """Every SimilarWeb call hangs (a sandbox ``timeout`` fault) until the test ends."""
    faults = sandbox_url(daemon) + "/_sandbox/faults"
    fault = {"upstream": "similarweb", "kind": "timeout", "rate": 1.0}
    httpx.post(faults, json=fault, trust_env=False).raise_for_status()
    yield
    httpx.delete(faults, trust_env=False).raise_for_status()


@pytest.mark.usefixtures("hanging_similarweb")
def test_wait_timeout_then_cancel(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(
        capsys, "enrich", "kohls.com", "--wave", "2", "--wait", "--wait-timeout", "0.3", *FAST
    )
    assert code == 1
    assert out == ""
    line = one_line(err)
    assert "keeps running" in line and "enrichd status kohls.com --wait" in line

    # The domain already has an active job.
    code, out, err = cli(capsys, "enrich", "kohls.com")
    assert (code, out) == (2, "")
    assert "enrichd cancel kohls.com" in one_line(err)

    code, cancelled = cli_json(capsys, "cancel", "kohls.com")
    assert code == 0
    assert cancelled["status"] == "cancelled"
    assert cli_json(capsys, "status", "kohls.com")[0] == 1  # cancelled

    code, _, err = cli(capsys, "cancel", "kohls.com")
    assert code == 2
    assert "nothing to cancel" in one_line(err)
    code, _, err = cli(capsys, "cancel", "kohls.com", "--job-id", cancelled["job_id"])
    assert code == 2
    assert "already finished" in one_line(err)


def test_retry(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "enrich", "unknown-retry.com", "--wave", "2", "--wait", *FAST)[0] == 1
    code, job = cli_json(capsys, "retry", "unknown-retry.com", "--failed-only")
    assert code == 0
    assert job["retry_of"] is not None and job["force"] is True
    code, status = cli_json(capsys, "status", "unknown-retry.com", "--wait", *FAST)
    assert code == 1  # still unknown to SimilarWeb
    code, status = cli_json(capsys, "retry", "unknown-retry.com", "--all", "--wait", *FAST)
    assert code == 1
    assert status["modules_total"] == 4

    assert cli(capsys, "enrich", "macys.com", "--wave", "1", "--wait", *FAST)[0] == 0
    code, _, err = cli(capsys, "retry", "macys.com")
    assert code == 2
    assert "enrichd enrich macys.com --force" in one_line(err)


# --- batch --------------------------------------------------------------------------------------


def test_batch_from_a_file_waits_by_default(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "domains.txt"
    path.write_text(
        "# spring campaign\n\nnordstrom.com   # Seattle\n  gap.com\nnordstrom.com\n",
        encoding="utf-8",
    )
    code, batch = cli_json(capsys, "batch", str(path), "--wave", "1", "--concurrency", "2", *FAST)
    assert code == 0
    assert batch["total_domains"] == 2
    assert sorted(j["domain"] for j in batch["jobs"]) == ["gap.com", "nordstrom.com"]
    assert {j["status"] for j in batch["jobs"]} == {"completed"}
    assert batch["concurrency"] == 2


def test_batch_from_stdin_reports_skipped_and_failed(
    capsys: pytest.CaptureFixture[str], env: pytest.MonkeyPatch
) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b"\xef\xbb\xbfnope\nunknown-batch.com\nkroger.com\n"))
    env.setattr(sys, "stdin", stdin)
    code, out, err = cli(capsys, "batch", "-", "--wave", "2", *FAST)
    assert code == 1
    assert one_line(err).startswith("enrichd: skipped nope: ")
    batch = json.loads(out)
    statuses = {j["domain"]: j["status"] for j in batch["jobs"]}
    assert statuses == {"unknown-batch.com": "failed", "kroger.com": "completed"}
    assert [s["reason"] for s in batch["skipped"]] == ["invalid_domain"]


def test_batch_no_wait(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "domains.txt"
    path.write_text("ulta.com\n")
    code, batch = cli_json(capsys, "batch", str(path), "--wave", "1", "--no-wait")
    assert code == 0
    assert [j["domain"] for j in batch["jobs"]] == ["ulta.com"]
    assert cli(capsys, "status", "ulta.com", "--wait", *FAST)[0] == 0


def test_batch_files_without_domains_are_usage_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n\n")
    code, out, err = cli(capsys, "batch", str(empty))
    assert (code, out) == (2, "")
    assert "has no domains" in one_line(err)
    code, _, err = cli(capsys, "batch", str(tmp_path / "missing.txt"))
    assert code == 2
    assert "cannot read" in one_line(err)


def test_read_domains(tmp_path: Path) -> None:
    path = tmp_path / "d.txt"
    path.write_bytes(b"\xef\xbb\xbfa.com\r\n#c.com\n b.com # x\n\na.com\n")
    assert read_domains(str(path)) == ["a.com", "b.com"]


# --- progress on a terminal ---------------------------------------------------------------------


@pytest.fixture
def terminal(env: pytest.MonkeyPatch) -> None:
    """Make the CLI believe standard output is a terminal (capsys's is not)."""
    env.setattr(_cli_client, "stdout_is_terminal", lambda: True)


@pytest.mark.usefixtures("terminal")
def test_wait_on_a_terminal_shows_bars_per_wave_then_a_table(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = cli(capsys, "enrich", "costco.com", "--wave", "1,2", "--force", "--wait", *FAST)
    assert code == 0
    assert ANSI in out and BAR in out
    assert "wave 1" in out and "wave 2" in out
    assert "modules" in out
    assert re.search(r"m03_traffic.*completed", out)


@pytest.mark.usefixtures("terminal")
def test_batch_on_a_terminal_prints_each_finished_job(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "domains.txt"
    path.write_text("sephora.com\nunknown-tty.com\n")
    code, out, _ = cli(capsys, "batch", str(path), "--wave", "2", *FAST)
    assert code == 1
    assert "✓ sephora.com" in out and "✗ unknown-tty.com" in out
    assert BAR in out


def test_ctrl_c_while_waiting_says_how_to_resume(
    capsys: pytest.CaptureFixture[str], env: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    env.setattr(Client, "wait", interrupted)
    code, out, err = cli(capsys, "enrich", "saks.com", "--wave", "1", "--wait")
    assert (code, out) == (130, "")
    line = one_line(err)
    assert "keeps running" in line and "enrichd status saks.com --wait" in line


# --- usage, unreachable, auth -------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["enrich"],
        ["enrich", "costco.com", "--priority", "urgent"],
        ["jobs", "--status", "done"],
        ["jobs", "--limit", "ten"],
        ["status", "costco.com", "--poll", "0"],
        ["retry", "costco.com", "--all", "--failed-only"],
    ],
)
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["enrich", "nope"], "'nope' is not a domain"),
        (["enrich", "costco.com", "--wave", "7"], "HTTP 422 invalid_wave"),
        (["enrich", "costco.com", "--module", "m99_magic"], "valid ids: m01_company_context"),
        (["enrich", "costco.com", "--wave", "one"], "--wave: expected wave numbers"),
        (["jobs", "--limit", "500"], "limit must be between 1 and 100"),
        (["status", "never-enriched.com"], "`enrichd enrich never-enriched.com` starts one"),
        (["jobs", "--url", "ftp://example.com"], "--url: expected a URL"),
    ],
)
def test_refused_requests_exit_2(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, *argv)
    assert (code, out) == (2, "")
    assert expected in one_line(err)


def test_nothing_listening_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    code, out, err = cli(capsys, "jobs", "--url", url)
    assert (code, out) == (3, "")
    assert one_line(err) == (
        f"enrichd: cannot reach enrichd at {url}: connection refused — is the daemon running? "
        "(--url / $ENRICHD_URL)"
    )


async def test_a_stopping_daemon_exits_3(
    canned: CannedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    canned.json(
        "GET",
        "/api/v1/enrich/costco.com/status",
        {"error": "shutting_down", "message": "the daemon is shutting down; retry shortly"},
        status=503,
    )
    argv = ["status", "costco.com", "--url", canned.url]
    # The CLI is synchronous: it runs in a thread while trio serves the canned answer.
    code = await trio.to_thread.run_sync(main, argv)
    out, err = capsys.readouterr()
    assert (code, out) == (3, "")
    assert "shutting down" in one_line(err) and "retry" in err


def test_wrong_or_missing_token_exits_4(
    capsys: pytest.CaptureFixture[str], env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env.setenv("ENRICHD_API_TOKEN", "not-the-token")
    code, out, err = cli(capsys, "jobs")
    assert (code, out) == (4, "")
    assert "refused the API token" in one_line(err)

    env.delenv("ENRICHD_API_TOKEN")
    code, _, err = cli(capsys, "jobs")
    assert code == 4
    assert "needs an API token" in one_line(err)

    code, _, err = cli(capsys, "jobs", "--token-file", str(tmp_path / "missing"))
    assert code == 4
    assert "--token-file" in one_line(err)

    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    assert cli(capsys, "jobs", "--token-file", str(token_file))[0] == 0
    env.setenv("ENRICHD_API_TOKEN_FILE", str(token_file))
    assert cli(capsys, "jobs")[0] == 0


# --- the daemon's URL ---------------------------------------------------------------------------


def test_url_from_the_config_server_bind(
    capsys: pytest.CaptureFixture[str], env: pytest.MonkeyPatch, tmp_path: Path, daemon: Daemon
) -> None:
    env.delenv("ENRICHD_URL")
    port = daemon.url.rsplit(":", 1)[1]
    config = tmp_path / "config.toml"
    config.write_text(f'[server]\nbind = "0.0.0.0:{port}"\n')
    assert cli(capsys, "jobs", "--config", str(config))[0] == 0
    env.setenv("ENRICHD_CONFIG", str(config))
    assert cli(capsys, "jobs")[0] == 0


def test_resolve_url(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.delenv("ENRICHD_URL")
    assert resolve_url(None, None) == "http://127.0.0.1:8080"
    assert resolve_url("enrichd.internal:9000/", None) == "http://enrichd.internal:9000"
    assert resolve_url("https://enrichd.example/base/", None) == "https://enrichd.example/base"
    env.setenv("ENRICHD_URL", "http://10.0.0.5:8080")
    assert resolve_url(None, None) == "http://10.0.0.5:8080"
    assert resolve_url("http://other:1", None) == "http://other:1"
    env.delenv("ENRICHD_URL")
    config = tmp_path / "config.toml"
    config.write_text('[server]\nbind = "[::]:8123"\n')
    assert resolve_url(None, str(config)) == "http://[::1]:8123"
    config.write_text('[server]\nbind = "127.0.0.1:0"\n')
    with pytest.raises(_cli_client.UsageError, match="pass --url"):
        resolve_url(None, str(config))
    with pytest.raises(_cli_client.UsageError, match="ENRICHD_URL"):
        resolve_url(None, str(tmp_path / "missing.toml"))


# --- the exit-status mapping --------------------------------------------------------------------


CTX = _cli_client._Context(url="http://127.0.0.1:8080", command="status", domain="costco.com")


@pytest.mark.parametrize(
    ("exc", "code", "words"),
    [
        (WaitTimeout("job J is still running (40%)", error="wait_timeout"), 1, "keeps running"),
        (Unauthorized("bad token", status_code=401, error="unauthorized"), 4, "refused"),
        (EnrichdError("no", status_code=403, error="forbidden"), 4, "forbidden"),
        (EnrichdError("unreadable", error="token_file_unreadable"), 4, "--token-file"),
        (Unavailable("x", error="unreachable"), 3, "is the daemon running"),
        (Unavailable("x", error="timeout"), 3, "--timeout"),
        (Unavailable("stopping", status_code=503, error="shutting_down"), 3, "retry"),
        (Unavailable("HTTP 502 from GET", status_code=502, error="http_502"), 3, "proxy"),
        (RateLimited("too many", status_code=429, error="rate_limited", retry_after=2), 3, "2 s"),
        (EnrichdError("boom", status_code=500, error="internal_error"), 3, "daemon's log"),
        (EnrichdError("odd", status_code=200, error="malformed_response"), 3, "--url"),
        (NotFound("no job", status_code=404, error="job_not_found"), 2, "enrichd enrich"),
        (Conflict("active", status_code=409, error="job_active"), 2, "enrichd cancel"),
        (EnrichdError("bad\nwave", status_code=422, error="invalid_wave"), 2, "HTTP 422"),
        (EnrichdError("too big", status_code=413, error="body_too_large"), 2, "--help"),
    ],
)
def test_explain_maps_every_error_class(exc: EnrichdError, code: int, words: str) -> None:
    got, message = explain(exc, CTX)
    assert got == code
    assert words in message
    assert "\n" not in message
