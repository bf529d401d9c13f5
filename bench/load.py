"""Load benchmark: many queued jobs, many concurrent API clients reading status and the list.

Starts the sandbox and the daemon as subprocesses, queues ``--jobs`` jobs on distinct generated
domains with batch POSTs, then runs ``--clients`` concurrent HTTP clients for ``--duration``
seconds. Each client loops: GET ``/api/v1/enrich/{domain}/status`` of a random queued domain, or
(a ``--list-share`` of the time) GET ``/api/v1/enrich``. Prints one JSON line of figures.

    python -m bench.load                 # 1,000 jobs, 50 clients, 20 s (the issue's target)
    python -m bench.load --smoke         # tiny sizes, for CI

Target (issue 5): no errors, and status reads under 50 ms at p99 on a 2-core machine.
See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import trio

from bench._harness import (
    BenchError,
    Stack,
    StartError,
    auth_section,
    client_tokens,
    machine_busy_seconds,
    machine_info,
    percentiles_ms,
    running_stack,
)

# What the daemon's config allows per batch POST (written into its config.toml below).
MAX_BATCH_DOMAINS = 1000
STATUS_P99_TARGET_MS = 50.0
#: Issue 7: the API endpoints must reach this share of the trivial endpoint's rate.
REFERENCE_SHARE_TARGET = 0.6
#: The trivial endpoint on the same server: no token, no read, the framework's minimum.
REFERENCE_PATH = "/livez"
REQUEST_TIMEOUT = 10.0


@dataclass
class Samples:
    """What the clients saw: latencies in seconds per kind of request, and errors by kind."""

    status: list[float] = field(default_factory=list)
    listing: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0  # seconds from the start of the window until the last client ended

    @property
    def requests(self) -> int:
        """Requests completed or failed."""
        exceptions = sum(n for kind, n in self.errors.items() if not kind.startswith("http_"))
        return len(self.status) + len(self.listing) + exceptions


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line; ``--smoke`` replaces the sizes with tiny ones."""
    p = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n")[0])
    p.add_argument("--jobs", type=int, default=1000, help="jobs to queue (default 1000)")
    p.add_argument("--clients", type=int, default=50, help="concurrent API clients (default 50)")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of load (default 20)")
    p.add_argument(
        "--latency", type=float, default=0.5, help="sandbox latency per answer (default 0.5)"
    )
    p.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="mean seconds each client waits between requests, each wait drawn uniformly from "
        "0.5x to 1.5x of it (default 0: back to back)",
    )
    p.add_argument(
        "--list-share",
        type=float,
        default=0.1,
        help="share of requests that are list reads (default 0.1)",
    )
    p.add_argument(
        "--concurrent-jobs",
        type=int,
        default=10,
        help="the daemon's jobs.max_concurrent_jobs (default 10, the shipped default)",
    )
    p.add_argument(
        "--batch-size", type=int, default=250, help="domains per batch POST (default 250)"
    )
    p.add_argument(
        "--no-reference",
        dest="reference",
        action="store_false",
        help=f"skip the first window, which measures {REFERENCE_PATH} (the trivial endpoint)",
    )
    p.add_argument("--seed", type=int, default=1, help="seed of the clients' choices")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    p.add_argument(
        "--smoke", action="store_true", help="tiny sizes for CI: 20 jobs, 4 clients, 2 s"
    )
    args = p.parse_args(argv)
    if args.smoke:
        args.jobs, args.clients, args.duration, args.batch_size = 20, 4, 2.0, 8
        # Back to back, one client would go over the API's per-client rate limit
        # (server.rate_limit_per_second, 50/s by default) and get 429s.
        args.think = max(args.think, 0.05)
    if args.jobs < 1 or args.clients < 1 or args.duration <= 0:
        p.error("--jobs and --clients must be at least 1 and --duration positive")
    return args


def domains_for(count: int) -> list[str]:
    """``count`` distinct registrable domains: load0001.com, load0002.com, ..."""
    width = max(4, len(str(count)))
    return [f"load{i:0{width}d}.com" for i in range(1, count + 1)]


def queue_jobs(stack: Stack, domains: list[str], batch_size: int) -> dict[str, Any]:
    """Queue one job per domain with batch POSTs; figures of how long that took."""
    size = max(1, min(batch_size, MAX_BATCH_DOMAINS))
    post_seconds: list[float] = []
    started = time.perf_counter()
    with stack.client() as client:
        for i in range(0, len(domains), size):
            chunk = domains[i : i + size]
            t0 = time.perf_counter()
            r = client.post("/api/v1/enrich/batch", json={"domains": chunk})
            post_seconds.append(time.perf_counter() - t0)
            if r.status_code != 202:
                raise BenchError(f"batch POST answered {r.status_code}: {r.text[:500]}")
            body = r.json()
            if body.get("skipped"):
                raise BenchError(f"batch POST skipped domains: {body['skipped'][:5]}")
    return {
        "batches": len(post_seconds),
        "batch_size": size,
        "seconds": round(time.perf_counter() - started, 3),
        "batch_post_ms": percentiles_ms(post_seconds),
    }


async def _client(
    index: int,
    token: str,
    url: str,
    domains: list[str],
    args: argparse.Namespace,
    samples: Samples,
    warmed: trio.Semaphore,
    go: trio.Event,
    window: list[float],
    reference: bool,
) -> None:
    rng = random.Random(args.seed * 100_003 + index)
    async with httpx.AsyncClient(
        base_url=url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=REQUEST_TIMEOUT,
        trust_env=False,
    ) as client:
        # Open the connection before the clock starts: the benchmark measures requests,
        # not 50 simultaneous TCP handshakes.
        await client.get("/healthz")
        warmed.release()
        await go.wait()
        if args.think > 0:
            # Independent clients are not in step: spread their first requests over one wait,
            # or every client would fire at the same instant each round.
            await trio.sleep(rng.uniform(0, args.think))
        while time.perf_counter() < window[1]:
            is_list = rng.random() < args.list_share
            if reference:
                path = REFERENCE_PATH
            elif is_list:
                path = "/api/v1/enrich"
            else:
                path = f"/api/v1/enrich/{rng.choice(domains)}/status"
            t0 = time.perf_counter()
            try:
                r = await client.get(path)
            except httpx.HTTPError as exc:
                samples.errors[type(exc).__name__] += 1
            else:
                kind = samples.listing if is_list and not reference else samples.status
                kind.append(time.perf_counter() - t0)
                if not 200 <= r.status_code < 300:
                    samples.errors[f"http_{r.status_code}"] += 1
            if args.think > 0:
                await trio.sleep(args.think * rng.uniform(0.5, 1.5))


async def run_clients(
    url: str,
    tokens: list[str],
    domains: list[str],
    args: argparse.Namespace,
    reference: bool = False,
) -> Samples:
    """Run one client per token for ``args.duration`` seconds, after all have connected.

    With ``reference``, every request is ``GET /livez`` (counted as a status read): the
    framework's floor on the same server, under the same load.
    """
    samples = Samples()
    warmed = trio.Semaphore(0, max_value=args.clients)
    go = trio.Event()
    window = [0.0, 0.0]  # start and end, in perf_counter seconds
    async with trio.open_nursery() as nursery:
        for i, token in enumerate(tokens):
            nursery.start_soon(
                _client, i, token, url, domains, args, samples, warmed, go, window, reference
            )
        for _ in range(args.clients):
            await warmed.acquire()
        window[0] = time.perf_counter()
        window[1] = window[0] + args.duration
        go.set()
    samples.elapsed = time.perf_counter() - window[0]
    return samples


def daemon_counts(stack: Stack) -> dict[str, Any]:
    """Queued, running and finished jobs as the daemon's list endpoint reports them."""
    with stack.client() as client:
        body = client.get("/api/v1/enrich", params={"limit": 1}).json()
    queued, running = body["queued_count"], body["running_count"]
    return {"queued": queued, "running": running, "finished": body["total"] - queued - running}


def upstream_requests(stack: Stack) -> int | None:
    """How many requests the sandbox served (None if it cannot say)."""
    try:
        stats = httpx.get(stack.sandbox.url + "/_sandbox/stats", timeout=5, trust_env=False).json()
    except (httpx.HTTPError, ValueError):
        return None
    upstreams = stats.get("upstreams", stats)
    total = 0
    for entry in upstreams.values():
        if isinstance(entry, dict) and isinstance(entry.get("requests"), int):
            total += entry["requests"]
    return total


def measure(stack: Stack, tokens: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Queue the jobs, run the clients, and gather every figure but the machine's."""
    domains = domains_for(args.jobs)
    queueing = queue_jobs(stack, domains, args.batch_size)
    reference: dict[str, Any] | None = None
    if args.reference:
        # Same stack, same queue, same clients: only the endpoint differs.
        ref_before = stack.daemon.cpu_seconds()
        ref = trio.run(run_clients, stack.daemon.url, tokens, domains, args, True)
        ref_cpu = _per_request_ms(ref_before, stack.daemon.cpu_seconds(), ref.requests)
        reference = {
            "daemon_cpu_ms_per_request": ref_cpu,
            "path": REFERENCE_PATH,
            "requests": ref.requests,
            "errors": sum(ref.errors.values()),
            "rps": round(ref.requests / ref.elapsed, 1),
            "ms": percentiles_ms(ref.status),
        }
    before = _cpu_readings(stack)
    samples = trio.run(run_clients, stack.daemon.url, tokens, domains, args)
    cpu = _cpu_use(before, _cpu_readings(stack))
    errors = dict(sorted(samples.errors.items()))
    status_ms = percentiles_ms(samples.status)
    rps = round(samples.requests / samples.elapsed, 1)
    share = round(rps / reference["rps"], 3) if reference and reference["rps"] else None
    p99_met = (
        not errors and status_ms["p99"] is not None and status_ms["p99"] < STATUS_P99_TARGET_MS
    )
    return {
        "requests": samples.requests,
        "errors": sum(errors.values()),
        "errors_by_kind": errors,
        "rps": rps,
        "status_ms": status_ms,
        "list_ms": percentiles_ms(samples.listing),
        "reference": reference,
        "target": {
            "status_p99_ms": STATUS_P99_TARGET_MS,
            "met": p99_met,
            "reference_share": share,
            "reference_share_target": REFERENCE_SHARE_TARGET,
            "reference_share_met": None if share is None else share >= REFERENCE_SHARE_TARGET,
        },
        "measured_seconds": round(samples.elapsed, 3),
        "cpu_seconds": cpu,
        # CPU per request barely depends on what else the machine runs, unlike latencies.
        "daemon_cpu_ms_per_request": _per_request_ms(0.0, cpu["daemon"], samples.requests),
        "queueing": queueing,
        "jobs_at_end": daemon_counts(stack),
        "upstream_requests": upstream_requests(stack),
        "daemon": stack.daemon.memory_kib(),
    }


def _per_request_ms(before: float | None, after: float | None, requests: int) -> float | None:
    """Milliseconds of daemon CPU per request between two readings (None if unknown)."""
    if before is None or after is None or not requests:
        return None
    return round(1000 * (after - before) / requests, 3)


def _cpu_readings(stack: Stack) -> dict[str, float | None]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "daemon": stack.daemon.cpu_seconds(),
        "sandbox": stack.sandbox.cpu_seconds(),
        "clients": usage.ru_utime + usage.ru_stime,
        "machine": machine_busy_seconds(),
    }


def _cpu_use(before: dict[str, float | None], after: dict[str, float | None]) -> dict[str, Any]:
    """CPU seconds used during the window by each process, and by everything else.

    ``other_processes`` is what the rest of the machine used meanwhile: when it is large the
    daemon shared its cores and the latencies say more about the machine than about it.
    """
    used: dict[str, float | None] = {}
    for key, start in before.items():
        end = after[key]
        used[key] = None if start is None or end is None else round(end - start, 3)
    parts = [used["daemon"], used["sandbox"], used["clients"]]
    machine = used.pop("machine")
    used["other_processes"] = (
        None
        if machine is None or any(p is None for p in parts)
        else round(max(0.0, machine - sum(p or 0.0 for p in parts)), 3)
    )
    return used


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print one JSON line; 2 if the daemon or the sandbox did not start."""
    args = parse_args(argv)
    # Before anything starts: the load average then says how busy the machine already was.
    machine = machine_info()
    figures: dict[str, Any] = {
        "benchmark": "load",
        "jobs": args.jobs,
        "clients": args.clients,
        "duration": args.duration,
        "latency": args.latency,
        "think": args.think,
        "list_share": args.list_share,
        "concurrent_jobs": args.concurrent_jobs,
    }
    # One token per client: each stands for a different API user, as the API's per-token
    # rate limit expects (one shared token would measure the limiter, not the daemon).
    tokens = client_tokens(args.clients)
    try:
        with running_stack(
            latency=args.latency,
            keep=args.keep,
            jobs={
                "max_concurrent_jobs": args.concurrent_jobs,
                "max_batch_domains": MAX_BATCH_DOMAINS,
            },
            auth=auth_section(tokens),
        ) as stack:
            try:
                figures.update(measure(stack, tokens, args))
            except BenchError as exc:
                print(f"bench.load: {exc}\n{stack.daemon.log_tail()}", file=sys.stderr)
                return 1
            daemon = stack.daemon
    except StartError as exc:
        print(f"bench.load: {exc}", file=sys.stderr)
        return 2
    figures["daemon"]["exit_code"] = daemon.exit_code
    figures["machine"] = machine
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
