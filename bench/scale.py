"""Scale benchmark: a store of 100,000 queued jobs: memory, start-up time and list queries.

Starts the sandbox (answers take ``--latency`` seconds, so the few jobs that run make little
progress) and the daemon with the shipped job limits, and queues ``--jobs`` jobs the way a
client would: batch POSTs of 1,000 domains (``jobs.max_batch_domains``). Then it measures

- the memory of the daemon that queued them: VmRSS, split into its own (RssAnon) and the pages
  of the LMDB file it has read (RssFile, page cache the kernel can reclaim), and VmHWM, the
  peak of VmRSS;
- a restart on that store: SIGTERM (the running jobs are written back as queued), then a new
  daemon on the same data directory, timed from spawn to its systemd ``READY=1`` (sent once it
  has re-queued every job and listens), and its memory at READY and a second later;
- list queries on the restarted daemon: ``GET /api/v1/enrich`` unfiltered, by status, by domain
  and at a deep offset, each ``--queries`` times in a row (status reads for comparison).

Prints one JSON line of figures.

    python -m bench.scale                # 100,000 jobs (about a minute to queue)
    python -m bench.scale --smoke        # 300 jobs, for CI

Targets (issue 7): RSS under 300 MB (judged on the daemon's own memory, RssAnon), start-up to
READY under 2 s. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from bench._harness import (
    BenchError,
    Proc,
    Stack,
    StartError,
    machine_info,
    percentiles_ms,
    running_stack,
)

RSS_TARGET_MB = 300
READY_TARGET_S = 2.0
MAX_BATCH_DOMAINS = 1000
#: How long after READY the restarted daemon's memory is read again.
SETTLE_SECONDS = 1.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line; ``--smoke`` replaces the sizes with tiny ones."""
    p = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n")[0])
    p.add_argument("--jobs", type=int, default=100_000, help="jobs to queue (default 100000)")
    p.add_argument(
        "--batch-size",
        type=int,
        default=MAX_BATCH_DOMAINS,
        help=f"domains per batch POST (default and most {MAX_BATCH_DOMAINS})",
    )
    p.add_argument(
        "--latency", type=float, default=2.0, help="sandbox seconds per answer (default 2)"
    )
    p.add_argument(
        "--queries", type=int, default=20, help="times each list query is made (default 20)"
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    p.add_argument("--smoke", action="store_true", help="tiny sizes for CI: 300 jobs")
    args = p.parse_args(argv)
    if args.smoke:
        args.jobs, args.batch_size, args.queries = 300, 100, 3
    if args.jobs < 1 or not 1 <= args.batch_size <= MAX_BATCH_DOMAINS or args.queries < 1:
        p.error(f"--jobs and --queries must be at least 1, --batch-size 1-{MAX_BATCH_DOMAINS}")
    return args


def domains_for(count: int) -> list[str]:
    """``count`` distinct generated domains."""
    width = max(6, len(str(count)))
    return [f"scale{i:0{width}d}.com" for i in range(1, count + 1)]


def queue_jobs(stack: Stack, domains: list[str], batch_size: int) -> dict[str, Any]:
    """Queue one job per domain with batch POSTs; how long that took."""
    post_seconds: list[float] = []
    started = time.perf_counter()
    with stack.client(timeout=120) as client:
        for i in range(0, len(domains), batch_size):
            t0 = time.perf_counter()
            r = client.post("/api/v1/enrich/batch", json={"domains": domains[i : i + batch_size]})
            post_seconds.append(time.perf_counter() - t0)
            if r.status_code != 202 or r.json().get("skipped"):
                raise BenchError(f"batch POST answered {r.status_code}: {r.text[:500]}")
    return {
        "batches": len(post_seconds),
        "batch_size": batch_size,
        "seconds": round(time.perf_counter() - started, 3),
        "batch_post_ms": percentiles_ms(post_seconds),
    }


def memory_mb(proc: Proc) -> dict[str, float]:
    """VmRSS and VmHWM in MB (10^6 bytes, as the target is written)."""
    return {
        k.replace("_kib", "_mb"): round(v * 1024 / 1e6, 1) for k, v in proc.memory_kib().items()
    }


def restart(stack: Stack) -> dict[str, Any]:
    """Stop the daemon and start a new one on its store; the stop and start-up times."""
    t0 = time.monotonic()
    exit_code = stack.daemon.stop()
    stop_s = time.monotonic() - t0
    daemon = stack.restart_daemon()
    healthy_s = time.monotonic() - daemon.spawned_at
    return {
        "stop_s": round(stop_s, 3),
        "first_exit_code": exit_code,
        "ready_s": round(daemon.ready_seconds or 0.0, 3),
        "healthy_s": round(healthy_s, 3),
    }


def list_queries(stack: Stack, domains: list[str], jobs: int, n: int) -> dict[str, Any]:
    """Client-side latency of each list query (and a status read), ``n`` times in a row."""
    middle = domains[len(domains) // 2]
    queries: dict[str, tuple[str, dict[str, Any]]] = {
        "list": ("/api/v1/enrich", {}),
        "list_queued": ("/api/v1/enrich", {"status": "queued"}),
        "list_running": ("/api/v1/enrich", {"status": "running"}),
        "list_completed": ("/api/v1/enrich", {"status": "completed"}),
        "list_domain": ("/api/v1/enrich", {"domain": middle}),
        "list_deep_offset": ("/api/v1/enrich", {"offset": max(0, jobs - 100), "limit": 100}),
        "status_read": (f"/api/v1/enrich/{middle}/status", {}),
    }
    out: dict[str, Any] = {}
    with stack.client(timeout=120) as client:
        client.get("/healthz")  # connect before timing
        for name, (path, params) in queries.items():
            seconds = []
            for _ in range(n):
                t0 = time.perf_counter()
                r = client.get(path, params=params)
                seconds.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    raise BenchError(f"GET {path} {params} answered {r.status_code}: {r.text}")
            out[name] = percentiles_ms(seconds)
        counts = client.get("/api/v1/enrich", params={"limit": 1}).json()
    out["jobs_at_end"] = {
        "total": counts["total"],
        "queued": counts["queued_count"],
        "running": counts["running_count"],
    }
    return out


def measure(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    """Queue the jobs, restart on the store, query; every figure but the machine's."""
    domains = domains_for(args.jobs)
    queueing = queue_jobs(stack, domains, args.batch_size)
    filled = memory_mb(stack.daemon)
    startup = restart(stack)
    ready = memory_mb(stack.daemon)
    time.sleep(SETTLE_SECONDS)
    settled = memory_mb(stack.daemon)
    queries = list_queries(stack, domains, args.jobs, args.queries)
    after = memory_mb(stack.daemon)
    # Judged on the daemon's own memory (RssAnon). VmRSS also counts the pages of the LMDB
    # file it has read: a list at a deep offset reads the whole time index, and start-up reads
    # every queued job's record. Those are the kernel's page cache, shared with the file and
    # reclaimed under pressure; VmRSS and its peak are reported beside it.
    rss = max(m.get("rss_anon_mb", 0.0) for m in (filled, settled, after))
    return {
        "queueing": queueing,
        "memory": {
            "after_queueing": filled,
            "restarted_at_ready": ready,
            "restarted_settled": settled,
            "after_queries": after,
        },
        "startup": startup,
        "queries_ms": queries,
        "target": {
            "rss_mb": RSS_TARGET_MB,
            "ready_s": READY_TARGET_S,
            "rss_anon_max_mb": rss,
            "rss_met": 0 < rss < RSS_TARGET_MB,
            "ready_met": 0 < startup["ready_s"] < READY_TARGET_S,
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print one JSON line; 2 if the daemon or the sandbox did not start."""
    args = parse_args(argv)
    machine = machine_info()
    figures: dict[str, Any] = {"benchmark": "scale", "jobs": args.jobs, "latency": args.latency}
    try:
        with running_stack(
            latency=args.latency,
            keep=args.keep,
            jobs={"max_batch_domains": MAX_BATCH_DOMAINS},
        ) as stack:
            try:
                figures.update(measure(stack, args))
            except BenchError as exc:
                print(f"bench.scale: {exc}\n{stack.daemon.log_tail()}", file=sys.stderr)
                return 1
            daemon = stack.daemon
    except StartError as exc:
        print(f"bench.scale: {exc}", file=sys.stderr)
        return 2
    figures["startup"]["second_exit_code"] = daemon.exit_code
    figures["machine"] = machine
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
