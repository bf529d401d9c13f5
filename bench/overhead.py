"""Orchestration-overhead benchmark: the daemon's module runs per second vs a bare HTTP loop.

For each size (1,000 then 10,000 domains by default) it starts the sandbox with no latency and
no rate limits, and the daemon with its sources' rate limits lifted (each keeps its shipped
number of workers). It queues every domain for a full enrichment (batches of 1,000) and measures
module runs per second end to end: from the first POST until no job is queued or running.

The sandbox runs through the recording wrapper (bench/_harness.py), so it remembers every
upstream request the daemon made. The reference then replays exactly those requests (method,
target, headers, body) against the same sandbox with a bare httpx loop: per upstream, one client
and as many workers as the daemon's source has. The reference rate is the same module runs over
the loop's time. The ratio says how much of the daemon's speed its orchestration (scheduling,
modules, storage, the API) costs beyond the HTTP calls themselves.

    python -m bench.overhead                  # 1,000 and 10,000 domains (several minutes)
    python -m bench.overhead --sizes 1000     # one size
    python -m bench.overhead --smoke          # tiny, for CI

Target (issue 7): at least 70% of the bare loop's rate. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import httpx
import trio

from bench._harness import (
    BenchError,
    RecordedRequest,
    Stack,
    machine_busy_seconds,
    machine_info,
    run_sizes,
    running_stack,
    upstream_limit_args,
    wait_until_idle,
)
from enrichd.plugins.builtin import SOURCES

RATIO_TARGET = 0.70
BATCH_DOMAINS = 1000
#: High enough never to bind: the benchmark measures the daemon, not its limiters.
UNLIMITED_RATE = 1_000_000.0
BURST = 1_000_000
#: Each source's workers unless --source-concurrency overrides them: the shipped defaults.
DEFAULT_WORKERS = {spec.name: spec.max_concurrency for spec in SOURCES}
LIST_PAGE = 100


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line; ``--smoke`` replaces the sizes with a tiny one."""
    p = argparse.ArgumentParser(prog="python -m bench.overhead", description=__doc__.split("\n")[0])
    p.add_argument(
        "--sizes", default="1000,10000", help="domains per run, comma-separated (1000,10000)"
    )
    p.add_argument(
        "--concurrent-jobs",
        type=int,
        default=100,
        help="jobs.max_concurrent_jobs, and each batch's concurrency (default 100)",
    )
    p.add_argument(
        "--source-concurrency",
        type=int,
        default=None,
        help="every source's max_concurrency (default: each source's shipped default)",
    )
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds one run may take")
    p.add_argument("--keep", action="store_true", help="keep the temporary directories (logs)")
    p.add_argument("--smoke", action="store_true", help="tiny size for CI: 20 domains")
    args = p.parse_args(argv)
    if args.smoke:
        args.sizes = "20"
    try:
        args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        p.error(f"--sizes: expected numbers separated by commas, got {args.sizes!r}")
    if not args.sizes or min(args.sizes) < 1 or args.concurrent_jobs < 1:
        p.error("--sizes and --concurrent-jobs must be at least 1")
    return args


def workers(args: argparse.Namespace) -> dict[str, int]:
    """Each source's workers (``max_concurrency``) in the daemon, and so in the bare loop."""
    if args.source_concurrency is None:
        return dict(DEFAULT_WORKERS)
    return dict.fromkeys(DEFAULT_WORKERS, args.source_concurrency)


def queue_all(stack: Stack, domains: list[str], concurrency: int) -> int:
    """Queue every domain in batches of :data:`BATCH_DOMAINS`; returns the jobs created."""
    created = 0
    with stack.client(timeout=120) as client:
        for i in range(0, len(domains), BATCH_DOMAINS):
            chunk = domains[i : i + BATCH_DOMAINS]
            body = {"domains": chunk, "concurrency": min(concurrency, len(chunk))}
            r = client.post("/api/v1/enrich/batch", json=body)
            if r.status_code != 202:
                raise BenchError(f"batch POST answered {r.status_code}: {r.text[:500]}")
            created += len(r.json()["jobs"])
    return created


def module_counts(stack: Stack) -> dict[str, int]:
    """Jobs by status and modules run (completed or failed) over every job, from the list."""
    counts: Counter[str] = Counter()
    offset = 0
    with stack.client(timeout=120) as client:
        while True:
            params = {"limit": LIST_PAGE, "offset": offset}
            page = client.get("/api/v1/enrich", params=params).json()
            for job in page["jobs"]:
                counts[f"jobs_{job['status']}"] += 1
                counts["modules_completed"] += job["modules_completed"]
                counts["modules_failed"] += job["modules_failed"]
            offset += LIST_PAGE
            if offset >= page["total"]:
                break
    counts["module_runs"] = counts["modules_completed"] + counts["modules_failed"]
    return dict(sorted(counts.items()))


async def replay(
    url: str, requests: list[RecordedRequest], pool: dict[str, int]
) -> tuple[float, Counter[str]]:
    """Send ``requests`` again: per upstream one client and ``pool[upstream]`` workers.

    Returns the seconds from the first request to the last answer, and answers by status.
    """
    by_upstream: dict[str, list[RecordedRequest]] = {}
    for request in requests:
        by_upstream.setdefault(request.upstream, []).append(request)
    statuses: Counter[str] = Counter()

    async def worker(client: httpx.AsyncClient, todo: list[RecordedRequest]) -> None:
        while todo:
            request = todo.pop()
            try:
                r = await client.request(
                    request.method,
                    request.target,
                    headers=request.headers,
                    content=request.body or None,
                )
                statuses[str(r.status_code)] += 1
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1

    async def upstream(name: str, todo: list[RecordedRequest]) -> None:
        n = max(1, pool.get(name, 1))
        async with httpx.AsyncClient(
            base_url=url,
            trust_env=False,
            timeout=60,
            limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
        ) as client:
            todo.reverse()  # pop() from the end takes them in the recorded order
            async with trio.open_nursery() as nursery:
                for _ in range(n):
                    nursery.start_soon(worker, client, todo)

    started = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for name, todo in by_upstream.items():
            nursery.start_soon(upstream, name, todo)
    return time.perf_counter() - started, statuses


def _cpu(stack: Stack) -> dict[str, float | None]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "daemon": stack.daemon.cpu_seconds(),
        "sandbox": stack.sandbox.cpu_seconds(),
        "bench": usage.ru_utime + usage.ru_stime,
        "machine": machine_busy_seconds(),
    }


def _cpu_used(before: dict[str, float | None], after: dict[str, float | None]) -> dict[str, Any]:
    used: dict[str, Any] = {}
    for key, start in before.items():
        end = after[key]
        used[key] = None if start is None or end is None else round(end - start, 2)
    machine = used.pop("machine")
    parts = [used["daemon"], used["sandbox"], used["bench"]]
    used["other_processes"] = (
        None if machine is None or None in parts else round(max(0.0, machine - sum(parts)), 2)
    )
    return used


def measure(size: int, args: argparse.Namespace) -> dict[str, Any]:
    """One run: the daemon's rate, then the bare loop's over the same requests."""
    pool = workers(args)
    width = len(str(size))
    domains = [f"overhead{i:0{width}d}.com" for i in range(1, size + 1)]
    settings = {
        name: {
            "rate_per_second": UNLIMITED_RATE,
            "burst": int(UNLIMITED_RATE),
            "max_concurrency": n,
        }
        for name, n in pool.items()
    }
    with running_stack(
        keep=args.keep,
        sandbox_args=upstream_limit_args(dict.fromkeys(pool)),
        source_settings=settings,
        record_requests=True,
        jobs={
            "max_concurrent_jobs": args.concurrent_jobs,
            "max_batch_domains": BATCH_DOMAINS,
            "max_batch_concurrency": max(100, args.concurrent_jobs),
        },
    ) as stack:
        before = _cpu(stack)
        started = time.perf_counter()
        created = queue_all(stack, domains, args.concurrent_jobs)
        queued_s = time.perf_counter() - started
        ended = wait_until_idle(stack, timeout=args.timeout, what=f"the {size} jobs")
        daemon_cpu = _cpu_used(before, _cpu(stack))
        elapsed = ended - started
        counts = module_counts(stack)
        daemon_mem = stack.daemon.memory_kib()
        daemon_statuses = _statuses(stack.sandbox_stats())
        recorded = stack.recorded_requests()
        before = _cpu(stack)
        bare_s, statuses = trio.run(replay, stack.sandbox.url, recorded, pool)
        bare_cpu = _cpu_used(before, _cpu(stack))
    runs = counts["module_runs"]
    rate = runs / elapsed
    bare_rate = runs / bare_s
    by_upstream = Counter(r.upstream for r in recorded)
    return {
        "domains": size,
        "jobs": created,
        **counts,
        "daemon": {
            "seconds": round(elapsed, 3),
            "queueing_s": round(queued_s, 3),
            "module_runs_per_s": round(rate, 1),
            "upstream_calls_per_s": round(len(recorded) / elapsed, 1),
            "cpu_seconds": daemon_cpu,
            **daemon_mem,
        },
        "bare": {
            "seconds": round(bare_s, 3),
            "module_runs_per_s": round(bare_rate, 1),
            "upstream_calls_per_s": round(len(recorded) / bare_s, 1),
            "cpu_seconds": bare_cpu,
            "statuses": dict(sorted(statuses.items())),
        },
        "upstream_calls": len(recorded),
        "calls_by_upstream": dict(sorted(by_upstream.items())),
        "daemon_statuses": daemon_statuses,
        "workers": pool,
        "ratio": round(rate / bare_rate, 3),
        "target": {"ratio": RATIO_TARGET, "met": rate / bare_rate >= RATIO_TARGET},
    }


def _statuses(stats: dict[str, Any]) -> dict[str, int]:
    """Answers by status the sandbox gave the daemon (before the replay added its own)."""
    responses = stats["totals"]["responses"]
    return {str(k): int(v) for k, v in sorted(responses.items())}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print one JSON line; 2 if the daemon or the sandbox did not start."""
    args = parse_args(argv)
    machine = machine_info()
    figures: dict[str, Any] = {
        "benchmark": "overhead",
        "concurrent_jobs": args.concurrent_jobs,
    }
    return run_sizes(
        "bench.overhead",
        figures,
        args.sizes,
        lambda size: measure(size, args),
        ratio_target=RATIO_TARGET,
        machine=machine,
    )


if __name__ == "__main__":
    sys.exit(main())
