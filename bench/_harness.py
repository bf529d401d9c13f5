"""Shared machinery of the benchmarks: the sandbox and the daemon as real subprocesses.

Each benchmark starts ``enrichd sandbox`` and ``enrichd serve`` with ``--bind 127.0.0.1:0`` (the
kernel picks free ports; each process logs the URL it bound), on a temporary data directory and
with a throw-away API token, measures something over HTTP and prints one JSON line of figures.

Process output goes to files in the temporary directory rather than pipes: a chatty daemon can
then never block on a full pipe, nothing needs draining threads, and the logs are there to read
when something fails (``keep=True`` leaves the directory in place).

Two diagnostics, each set as an environment variable of the benchmark (both may be set):

- ``ENRICHD_BENCH_PROFILE=PATH``: the daemon runs under cProfile and writes its profile to PATH
  when it stops (read it with ``python -m pstats PATH``). It halves the daemon's throughput.
- ``ENRICHD_BENCH_TRACE=PATH``: the daemon runs through this module (``python -m bench._harness
  PATH serve ...``), which records every garbage collection over 1 ms and every trio task step
  over 5 ms (wall and CPU time, task name: what held the event loop) and writes them to PATH as
  JSON when it stops. Cheap enough to leave the figures nearly unchanged.

The daemon always gets a ``NOTIFY_SOCKET`` (a datagram socket in the temporary directory), so
``Proc.ready_seconds`` is the time from spawn to its systemd ``READY=1``: start-up as a service
manager sees it. ``running_stack(record_requests=True)`` runs the sandbox through this module as
well (``python -m bench._harness --record-requests sandbox ...``): it remembers every upstream
request it serves, for a benchmark to replay (:meth:`Stack.recorded_requests`).
"""

from __future__ import annotations

import gc
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import msgspec

from enrichd._toml import toml_value

REPO = Path(__file__).resolve().parents[1]
TOKEN = "bench-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PROFILE_ENV = "ENRICHD_BENCH_PROFILE"
TRACE_ENV = "ENRICHD_BENCH_TRACE"
TRACE_GC_MS = 1.0
TRACE_STEP_MS = 5.0
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
_SANDBOX_URL = re.compile(r"enrichd sandbox listening on (http://\S+)")
_DAEMON_URL = re.compile(r"enrichd listening on (http://\S+)")
RECORD_FLAG = "--record-requests"
#: The sandbox control path the recording wrapper answers with what it recorded (and stops).
RECORDED_PATH = "/_sandbox/bench/recorded"
#: Request headers a replay must not copy: the client sets them itself for its own connection.
_HOP_HEADERS = frozenset(
    {"host", "content-length", "connection", "transfer-encoding", "accept-encoding", "user-agent"}
)
_LOG_TAIL_LINES = 60
T = TypeVar("T")


class BenchError(RuntimeError):
    """The daemon refused the set-up of a benchmark, or a run did not finish: the benchmark
    prints the message and exits 1."""


class StartError(RuntimeError):
    """A process did not come up; the message ends with the tail of its log."""


@dataclass
class Proc:
    """A running subprocess whose stdout and stderr go to files."""

    name: str
    popen: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path
    url: str = ""
    exit_code: int | None = field(default=None, init=False)
    #: ``time.monotonic()`` just before the process was spawned.
    spawned_at: float = 0.0
    #: ``time.monotonic()`` when its ``READY=1`` arrived on ``notify`` (None: not (yet) seen).
    ready_at: float | None = field(default=None, init=False)
    notify: socket.socket | None = field(default=None, repr=False)

    @property
    def ready_seconds(self) -> float | None:
        """Seconds from spawn to the ``READY=1`` notification, once it has arrived."""
        return None if self.ready_at is None else self.ready_at - self.spawned_at

    def poll_ready(self, timeout: float = 0.0) -> bool:
        """Read pending notifications (waiting up to ``timeout``); True once READY=1 came."""
        sock = self.notify
        if self.ready_at is not None or sock is None:
            return self.ready_at is not None
        readable, _, _ = select.select([sock], [], [], timeout)
        while readable:
            try:
                message = sock.recv(4096)
            except BlockingIOError:
                break
            # Stamped at once: select() woke us when the datagram arrived.
            if b"READY=1" in message.split(b"\n"):
                self.ready_at = time.monotonic()
                break
        return self.ready_at is not None

    @property
    def pid(self) -> int:
        """The process id."""
        return self.popen.pid

    def stdout(self) -> str:
        """Everything the process wrote to stdout so far."""
        return self.stdout_path.read_text(errors="replace")

    def log(self) -> str:
        """Everything the process wrote to stderr (its log) so far."""
        return self.stderr_path.read_text(errors="replace")

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of the log, for error messages."""
        return "".join(self.log().splitlines(keepends=True)[-lines:])

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, then SIGKILL if it lingers; returns the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=timeout)
        self.exit_code = self.popen.returncode
        if self.notify is not None:
            self.notify.close()
            self.notify = None
        return self.exit_code

    def memory_kib(self) -> dict[str, int]:
        """Resident memory now and at its peak (VmRSS, VmHWM), in KiB; empty without /proc."""
        return proc_memory_kib(self.pid)

    def cpu_seconds(self) -> float | None:
        """User plus system CPU time used so far, or None without /proc."""
        return proc_cpu_seconds(self.pid)


@dataclass
class Stack:
    """A sandbox and a daemon pointed at it, plus the directory holding their files."""

    workdir: Path
    sandbox: Proc
    daemon: Proc
    config_path: Path

    def client(self, timeout: float = 30.0) -> httpx.Client:
        """A synchronous client of the daemon's API, authenticated."""
        return httpx.Client(
            base_url=self.daemon.url, headers=AUTH, timeout=timeout, trust_env=False
        )

    def restart_daemon(self, name: str = "daemon-restarted") -> Proc:
        """Stop the daemon (SIGTERM) and start a new one on the same config and data."""
        self.daemon.stop()
        self.daemon = start_daemon(self.workdir, self.config_path, name=name)
        return self.daemon

    def sandbox_stats(self) -> dict[str, Any]:
        """The sandbox's ``GET /_sandbox/stats`` document."""
        r = httpx.get(self.sandbox.url + "/_sandbox/stats", timeout=10, trust_env=False)
        r.raise_for_status()
        stats: dict[str, Any] = r.json()
        return stats

    def recorded_requests(self) -> list[RecordedRequest]:
        """Every upstream request the sandbox served so far, in arrival order.

        Only with ``running_stack(record_requests=True)``. Recording stops with this call, so a
        replay of the requests is not recorded in turn.
        """
        r = httpx.get(self.sandbox.url + RECORDED_PATH, timeout=120, trust_env=False)
        r.raise_for_status()
        return msgspec.json.decode(r.content, type=list[RecordedRequest])


class RecordedRequest(msgspec.Struct, array_like=True):
    """One upstream request the recording sandbox served."""

    upstream: str
    method: str
    #: Path and query, relative to the sandbox's base URL.
    target: str
    #: The request's headers, minus those a client sets for its own connection.
    headers: list[tuple[str, str]]
    body: bytes


def _spawn(name: str, argv: Sequence[str], workdir: Path, env: Mapping[str, str]) -> Proc:
    stdout_path = workdir / f"{name}.stdout"
    stderr_path = workdir / f"{name}.log"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        spawned_at = time.monotonic()
        popen = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=dict(env), cwd=REPO
        )
    return Proc(name, popen, stdout_path, stderr_path, spawned_at=spawned_at)


def _notify_socket(path: Path) -> socket.socket:
    """A datagram socket at ``path`` to receive the daemon's sd_notify messages."""
    path.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    sock.bind(str(path))
    sock.setblocking(False)
    return sock


def _base_env(**extra: str) -> dict[str, str]:
    # No inherited ENRICHD_* settings (a developer's real API keys, $ENRICHD_CONFIG): the
    # processes get only what the benchmark sets, so every run measures the same thing.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENRICHD_")}
    # PYTHONPATH makes the checkout's enrichd importable even where it is not installed.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return {**env, **extra}


def _wait_for(proc: Proc, ready: Callable[[], T | None], deadline: float, what: str) -> T:
    """Poll ``ready()`` until it returns something truthy; StartError if the process dies."""
    while time.monotonic() < deadline:
        result = ready()
        if result:
            return result
        if proc.popen.poll() is not None:
            raise StartError(
                f"{proc.name} exited with code {proc.popen.returncode} before {what}:\n"
                + proc.log_tail()
            )
        time.sleep(0.02)
    raise StartError(f"{proc.name} did not report {what} in time:\n" + proc.log_tail())


def _url_in_log(proc: Proc, pattern: re.Pattern[str]) -> str | None:
    match = pattern.search(proc.log())
    return match.group(1) if match else None


def _sources_toml(proc: Proc) -> str | None:
    """The ``[sources.*]`` tables once the sandbox has printed them completely."""
    text = proc.stdout()
    if not text.endswith("\n"):
        return None
    try:
        parsed = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None  # half written
    return text if parsed.get("sources") else None


def start_sandbox(
    workdir: Path,
    *,
    latency: float = 0.0,
    jitter: float = 0.0,
    seed: int | None = None,
    extra_args: Sequence[str] = (),
    record: bool = False,
) -> tuple[Proc, str]:
    """Start ``enrichd sandbox`` on a free port; returns it and its ``[sources.*]`` TOML.

    ``record``: through the recording wrapper (see :meth:`Stack.recorded_requests`).
    """
    runner = ["bench._harness", RECORD_FLAG] if record else ["enrichd"]
    argv = [sys.executable, "-m", *runner, "sandbox", "--bind", "127.0.0.1:0"]
    argv += ["--latency", str(latency), "--jitter", str(jitter)]
    if seed is not None:
        argv += ["--seed", str(seed)]
    proc = _spawn("sandbox", [*argv, *extra_args], workdir, _base_env())
    try:
        deadline = time.monotonic() + START_TIMEOUT
        proc.url = _wait_for(proc, lambda: _url_in_log(proc, _SANDBOX_URL), deadline, "its URL")
        # The tables are printed right after the log line, in one write.
        toml = _wait_for(proc, lambda: _sources_toml(proc), deadline, "its [sources.*] tables")
    except BaseException:
        proc.stop()
        raise
    return proc, toml


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=2.0, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def start_daemon(
    workdir: Path,
    config_path: Path,
    *,
    data_dir: Path | None = None,
    token: str = TOKEN,
    name: str = "daemon",
) -> Proc:
    """Start ``enrichd serve`` on a free port and wait for ``READY=1`` and ``/healthz`` 200.

    ``name`` names its log files (``NAME.log``), so a restarted daemon keeps the first one's.
    """
    argv = [sys.executable]
    profile = os.environ.get(PROFILE_ENV)
    if profile:
        argv += ["-m", "cProfile", "-o", str(Path(profile).resolve())]
    trace = os.environ.get(TRACE_ENV)
    if trace:
        argv += ["-m", "bench._harness", str(Path(trace).resolve())]
    else:
        argv += ["-m", "enrichd"]
    argv += ["serve", "--config", str(config_path), "--bind", "127.0.0.1:0"]
    argv += ["--data-dir", str(data_dir or workdir / "data")]
    notify_path = workdir / f"{name}.notify"
    notify = _notify_socket(notify_path)
    env = _base_env(ENRICHD_API_TOKEN=token, NOTIFY_SOCKET=str(notify_path))
    try:
        proc = _spawn(name, argv, workdir, env)
    except BaseException:
        notify.close()
        raise
    proc.notify = notify
    try:
        deadline = time.monotonic() + START_TIMEOUT
        # READY=1 comes once the daemon listens: blocking on the socket stamps it when it lands.
        _wait_for(proc, lambda: proc.poll_ready(0.05), deadline, "READY=1 (sd_notify)")
        proc.url = _wait_for(proc, lambda: _url_in_log(proc, _DAEMON_URL), deadline, "its URL")
        _wait_for(proc, lambda: _healthy(proc.url), deadline, "healthy (/healthz 200)")
    except BaseException:
        proc.stop()
        raise
    return proc


def write_config(
    path: Path,
    sources_toml: str,
    source_settings: Mapping[str, Mapping[str, Any]] | None = None,
    **sections: Mapping[str, Any],
) -> None:
    """Write a daemon config: the sandbox's ``[sources.*]`` tables plus ``sections``.

    ``source_settings`` adds keys to those tables (``{"similarweb": {"rate_per_second": 5}}``).
    """
    sources: dict[str, dict[str, Any]] = tomllib.loads(sources_toml).get("sources", {})
    for name, extra in (source_settings or {}).items():
        sources[name] = {**sources.get(name, {}), **extra}
    tables = {**sections, **{f"sources.{name}": table for name, table in sources.items()}}
    lines = []
    for name, table in tables.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {toml_value(value, f'{name}.{key}')}" for key, value in table.items()]
        lines.append("")
    path.write_text("\n".join(lines))


def run_sizes(
    prog: str,
    figures: dict[str, Any],
    sizes: Sequence[T],
    measure: Callable[[T], dict[str, Any]],
    *,
    ratio_target: float,
    machine: dict[str, Any],
) -> int:
    """``measure`` each size in turn (each run reported on stderr), then print ``figures`` with
    the runs, whether every run met ``ratio_target``, and ``machine`` as one JSON line.

    Returns the exit status: 0, 2 if a process did not start, 1 if a run failed (why is printed).
    """
    runs = []
    try:
        for size in sizes:
            print(f"{prog}: {size} ...", file=sys.stderr)
            run = measure(size)
            print(f"{prog}: {json.dumps(run)}", file=sys.stderr)
            runs.append(run)
    except StartError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    except (BenchError, TimeoutError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    figures["runs"] = runs
    figures["target"] = {
        "ratio": ratio_target,
        "met": all(run["target"]["met"] for run in runs),
    }
    figures["machine"] = machine
    print(json.dumps(figures), flush=True)
    return 0


def other_plugins() -> list[str]:
    """Installed ``enrichd`` entry points other than the built-in plugin.

    Benchmarks disable them: every figure is of the built-in modules, whatever else happens to
    be installed (a plugin that calls the internet would also fail without it, or worse).
    """
    found = importlib.metadata.entry_points(group="enrichd")
    return sorted({ep.name for ep in found} - {"builtin"})


def client_tokens(count: int) -> list[str]:
    """``count`` distinct API tokens, one per simulated API client."""
    return [f"bench-client-{i}" for i in range(count)]


def auth_section(tokens: Sequence[str]) -> dict[str, list[str]]:
    """The ``[auth]`` table accepting ``tokens`` (stored as SHA-256 digests, as always)."""
    return {"token_sha256": [hashlib.sha256(t.encode()).hexdigest() for t in tokens]}


@contextmanager
def running_stack(
    *,
    latency: float = 0.0,
    jitter: float = 0.0,
    seed: int | None = None,
    keep: bool = False,
    sandbox_args: Sequence[str] = (),
    source_settings: Mapping[str, Mapping[str, Any]] | None = None,
    record_requests: bool = False,
    **sections: Mapping[str, Any],
) -> Iterator[Stack]:
    """A sandbox and a daemon configured with ``sections`` (e.g. ``jobs={...}``), then stopped.

    ``sandbox_args`` are extra ``enrichd sandbox`` options (``--limit NAME=RATE``);
    ``source_settings`` extra keys of the daemon's ``[sources.<name>]`` tables;
    ``record_requests`` makes the sandbox remember its requests (:meth:`Stack.recorded_requests`).

    The daemon logs at info level (production's default): the benchmark then pays for the
    same logging a real deployment does. Pass ``logging={"level": ...}`` to change it. Only the
    built-in plugin is loaded (:func:`other_plugins`); pass ``plugins={...}`` to change that. The
    daemon accepts :data:`TOKEN` (``Stack.client``) plus any ``auth={"token_sha256": [...]}``
    (see :func:`auth_section`): the API rate-limits per token, so simulated clients that
    stand for different API users each need their own.
    """
    workdir = Path(tempfile.mkdtemp(prefix="enrichd-bench-"))
    sections = {
        "logging": {"level": "info"},
        "plugins": {"disable": other_plugins()},
        **sections,
    }
    try:
        sandbox, toml = start_sandbox(
            workdir,
            latency=latency,
            jitter=jitter,
            seed=seed,
            extra_args=sandbox_args,
            record=record_requests,
        )
        try:
            config_path = workdir / "config.toml"
            write_config(config_path, toml, source_settings, **sections)
            stack = Stack(workdir, sandbox, start_daemon(workdir, config_path), config_path)
            try:
                yield stack
            finally:
                stack.daemon.stop()  # the latest one, if the benchmark restarted it
        finally:
            sandbox.stop()
    finally:
        if keep:
            print(f"bench: files kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def upstream_limit_args(limits: Mapping[str, float | None]) -> list[str]:
    """``enrichd sandbox`` options setting each upstream's rate (None: unlimited).

    The burst is left to the sandbox: one second's worth of requests (the rate rounded up).
    """
    args: list[str] = []
    for name, rate in limits.items():
        args += ["--limit", f"{name}={'none' if rate is None else format(rate, 'g')}"]
    return args


def wait_until_idle(
    stack: Stack, *, timeout: float, poll: float = 0.05, what: str = "the jobs"
) -> float:
    """Poll ``/healthz`` until no job is queued or running; returns ``time.perf_counter()``.

    ``/healthz`` reads the scheduler's counters, so polling it costs the daemon next to nothing
    (the job list would walk the status index on every poll). Raises TimeoutError.
    """
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=stack.daemon.url, timeout=10, trust_env=False) as client:
        while True:
            body = client.get("/healthz").json()
            now = time.perf_counter()
            if body["queued"] == 0 and body["running"] == 0:
                return now
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{what} did not finish within {timeout:g} s "
                    f"({body['queued']} queued, {body['running']} running)"
                )
            time.sleep(poll)


def machine_busy_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy (all CPUs, from /proc/stat), or None."""
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    # cpu user nice system idle iowait irq softirq steal ...: busy is all but idle and iowait.
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in first[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def proc_memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process from /proc/<pid>/status, in KiB (empty if unreadable).

    Also RssAnon and RssFile, the two parts of VmRSS that matter here: the daemon's own
    memory, and the pages of its LMDB file it has read (page cache the kernel can take back
    whenever it needs the memory).
    """
    wanted = {
        "VmRSS": "rss_kib",
        "VmHWM": "rss_peak_kib",
        "RssAnon": "rss_anon_kib",
        "RssFile": "rss_file_kib",
    }
    out: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in wanted:
            out[wanted[key]] = int(rest.split()[0])
    return out


def proc_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process from /proc/<pid>/stat, in seconds (None if unreadable)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; the fields after its ")" are fixed.
    fields = text.rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_info() -> dict[str, Any]:
    """CPU count and model, Python version and platform of this machine."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        # Other work on the machine skews every figure; say how busy it was.
        "loadavg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def percentiles_ms(seconds: Sequence[float]) -> dict[str, Any]:
    """count, p50, p95, p99 and max of durations given in seconds, in milliseconds.

    Nearest-rank percentiles: the p99 is a latency some request actually had.
    """
    if not seconds:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(seconds)

    def rank(p: float) -> float:
        index = max(0, min(len(ordered) - 1, -(-len(ordered) * p // 100) - 1))
        return round(ordered[int(index)] * 1000, 2)

    return {
        "count": len(ordered),
        "p50": rank(50),
        "p95": rank(95),
        "p99": rank(99),
        "max": round(ordered[-1] * 1000, 2),
    }


# --- The trace wrapper: ``python -m bench._harness OUT serve ...`` (see ENRICHD_BENCH_TRACE). ---


class _Trace:
    """Garbage collections and long trio task steps of this process, written out at exit."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.t0 = time.monotonic()
        self.gc: list[dict[str, Any]] = []
        self.steps: list[dict[str, Any]] = []
        self._gc_start = (0.0, 0.0)

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        """A gc callback: times each collection in wall and CPU time."""
        if phase == "start":
            self._gc_start = (time.perf_counter(), time.thread_time())
            return
        wall = (time.perf_counter() - self._gc_start[0]) * 1000
        if wall >= TRACE_GC_MS:
            self.gc.append(
                {
                    "at_s": round(time.monotonic() - self.t0, 3),
                    "generation": info["generation"],
                    "wall_ms": round(wall, 2),
                    # CPU time tells a slow collection from a process the OS preempted.
                    "cpu_ms": round((time.thread_time() - self._gc_start[1]) * 1000, 2),
                    "collected": info["collected"],
                }
            )

    def write(self) -> None:
        """Write the trace as JSON, with a summary first."""
        summary = {
            "gc_over_1ms": len(self.gc),
            "gc_cpu_ms_total": round(sum(g["cpu_ms"] for g in self.gc), 1),
            "gc_gen2_cpu_ms_max": max(
                (g["cpu_ms"] for g in self.gc if g["generation"] == 2), default=0.0
            ),
            "steps_over_5ms": len(self.steps),
            "gc_objects_at_exit": len(gc.get_objects()),
        }
        payload = {"summary": summary, "gc": self.gc, "steps": self.steps}
        self.out.write_text(json.dumps(payload, indent=1))


def _trace_main(out: str, argv: list[str]) -> int:
    """Run ``enrichd`` with ``argv`` in this process, tracing it into ``out``."""
    import trio

    from enrichd.cli import main

    trace = _Trace(Path(out))

    class StepTimer(trio.abc.Instrument):
        """Times each task step: a long one held the event loop (and every request) up."""

        def __init__(self) -> None:
            self.started = (0.0, 0.0)

        def before_task_step(self, task: trio.lowlevel.Task) -> None:
            self.started = (time.perf_counter(), time.thread_time())

        def after_task_step(self, task: trio.lowlevel.Task) -> None:
            wall = (time.perf_counter() - self.started[0]) * 1000
            if wall >= TRACE_STEP_MS:
                cpu = (time.thread_time() - self.started[1]) * 1000
                trace.steps.append(
                    {
                        "at_s": round(time.monotonic() - trace.t0, 3),
                        "task": task.name,
                        "wall_ms": round(wall, 2),
                        "cpu_ms": round(cpu, 2),
                    }
                )

    real_run = trio.run

    def traced_run(*args: Any, **kwargs: Any) -> Any:
        kwargs["instruments"] = [*kwargs.get("instruments", ()), StepTimer()]
        return real_run(*args, **kwargs)

    # enrichd.cli calls trio.run(...) through the module attribute, so this reaches it.
    trio.run = traced_run  # type: ignore[assignment]
    gc.callbacks.append(trace.on_gc)
    try:
        return main(argv)
    finally:
        trace.write()


# --- The recording wrapper: ``python -m bench._harness --record-requests sandbox ...``. ---


def _record_main(argv: list[str]) -> int:
    """Run ``enrichd`` (the sandbox) with ``argv``, remembering each upstream request served.

    ``GET /_sandbox/bench/recorded`` answers the list as JSON (bodies in base64, as msgspec
    writes bytes) and stops recording. Memory: one small tuple per request, with the headers
    shared between requests that send the same ones.
    """
    from enrichd.cli import main
    from enrichd.sandbox import _server
    from enrichd.sandbox._http import HttpRequest, HttpResponse, Reset, json_response

    recorded: list[tuple[str, str, str, tuple[tuple[str, str], ...], bytes]] = []
    shared: dict[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]] = {}
    state = {"on": True}
    real_handle = _server.Sandbox.handle

    async def handle(self: _server.Sandbox, request: HttpRequest) -> HttpResponse | Reset:
        if request.path == RECORDED_PATH:
            state["on"] = False
            return json_response([[*entry[:3], list(entry[3]), entry[4]] for entry in recorded])
        if state["on"] and not request.path.startswith("/_sandbox"):
            upstream = self._upstreams.route(request.path)
            if upstream is not None:
                headers = tuple(
                    sorted((k, v) for k, v in request.headers.items() if k not in _HOP_HEADERS)
                )
                headers = shared.setdefault(headers, headers)
                recorded.append((upstream, request.method, request.target, headers, request.body))
        return await real_handle(self, request)

    _server.Sandbox.handle = handle  # type: ignore[method-assign]
    return main(argv)


if __name__ == "__main__":
    if sys.argv[1:2] == [RECORD_FLAG]:
        sys.exit(_record_main(sys.argv[2:]))
    sys.exit(_trace_main(sys.argv[1], sys.argv[2:]))
