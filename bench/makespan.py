"""Makespan benchmark: full enrichments against slow, rate-limited upstreams, vs the lower bound.

For each size (1 domain, then batches of 10 and 100 by default) it starts the sandbox with every
answer taking ``--latency`` ± ``--jitter`` seconds and the upstream rate limits below, and the
daemon with the same limits, enriches that many domains with every module and measures the
makespan: from the POST to the moment no job is queued or running. Small sizes are repeated
(fresh processes, another seed of the latency draws each time): their makespan is a handful of
random latencies end to end, and one draw says little. It compares the mean makespan with the
lower bound, the larger of

- the longest dependency chain's latency: each domain's longest path of sequential upstream
  round trips through the module graph, each round trip taking a random latency as the sandbox
  draws it; the expected finish of the slowest domain's chain (averaged over random draws). For
  one domain that is round trips x mean latency. Each module's round trips come from a
  calibration run of the same domains (a fixed latency of 1 s, no limits): its duration over
  that latency. ``chain.at_mean_latency_s`` is the issue's literal figure, the most round trips
  x the mean latency, which ignores that ten domains' makespan waits for the slowest of ten;
- for each upstream, the calls the daemon actually made to it (the sandbox's own count) divided
  by its rate. Precisely: the calls beyond the first burst, over the rate, plus the shortest
  latency the last call can have; with the burst one second's worth of calls and the shortest
  latency one second (the defaults), that is exactly calls / rate.

Prints one JSON line of figures.

    python -m bench.makespan                 # 1 (x5), 10 (x3), 100 at 2 s +- 1 s (~6 min)
    python -m bench.makespan --sizes 10x2    # one size, twice
    python -m bench.makespan --smoke         # tiny sizes and latency, for CI

Targets (issue 7): makespan / lower bound <= 1.15; one domain well under the seed's 45-90 s and
ten well under its 3-5 min. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from bench._harness import (
    BenchError,
    Stack,
    machine_info,
    run_sizes,
    running_stack,
    upstream_limit_args,
    wait_until_idle,
)
from enrichd.plugins._types import all_dependencies
from enrichd.plugins.builtin import MODULES

#: The issue's "realistic limits", in requests per second, on the sandbox and the daemon alike.
LIMITS: dict[str, float] = {
    "builtwith": 2.0,
    "similarweb": 10.0,
    "yahoo_finance": 5.0,
    "websearch": 5.0,
    "homepage": 10.0,
    # Not named by the issue: the real APIs' limits, as the sandbox has them by default.
    "builtwith_free": 1.0,
    "llm": 5.0,
}
RATIO_TARGET = 1.15
#: The seed's figures the issue compares with: seconds for one domain and for ten.
SEED_SECONDS = {"1": (45, 90), "10": (180, 300)}
DEPENDENCIES = {spec.id: all_dependencies(spec) for spec in MODULES}
#: No limit at all during calibration: only the round trips should shape the durations.
UNLIMITED_RATE = 1000.0
#: Few enough jobs at a time that the daemon's and the sandbox's own time per call stays a
#: small fraction of the calibration latency (at 10 jobs and 0.25 s, some calls took 0.45 s).
CALIBRATION_JOBS = 25
CALIBRATION_WORKERS = 64
#: Random draws averaged for the expected chain latency.
CHAIN_SAMPLES = 2000


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line; ``--smoke`` replaces the sizes and latency with tiny ones."""
    p = argparse.ArgumentParser(prog="python -m bench.makespan", description=__doc__.split("\n")[0])
    p.add_argument(
        "--sizes",
        default="1x5,10x3,100",
        help="domains per run, comma-separated, each optionally xREPEATS (default 1x5,10x3,100)",
    )
    p.add_argument("--latency", type=float, default=2.0, help="mean seconds per upstream call")
    p.add_argument("--jitter", type=float, default=1.0, help="+- seconds around --latency")
    p.add_argument(
        "--calibration-latency",
        type=float,
        default=1.0,
        help="fixed seconds per call of the calibration run (default 1)",
    )
    p.add_argument(
        "--concurrent-jobs",
        type=int,
        default=100,
        help="jobs.max_concurrent_jobs, and each batch's concurrency (default 100)",
    )
    p.add_argument(
        "--source-concurrency",
        default="auto",
        help="each source's max_concurrency: 'auto' (rate x (latency + jitter), enough to "
        "reach the rate), 'default' (the shipped defaults) or a number",
    )
    p.add_argument("--seed", type=int, default=1, help="seed of the sandbox's latency draws")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds one run may take")
    p.add_argument("--keep", action="store_true", help="keep the temporary directories (logs)")
    p.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes for CI: 1 and 3 domains, 50 ms latency, 100 ms calibration",
    )
    args = p.parse_args(argv)
    if args.smoke:
        args.sizes, args.latency, args.jitter = "1x2,3", 0.05, 0.02
        args.calibration_latency = 0.1
    try:
        args.sizes = [_size(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        p.error(f"--sizes: expected SIZE[xREPEATS] separated by commas, got {args.sizes!r}")
    if not args.sizes or any(not 1 <= n <= 1000 or r < 1 for n, r in args.sizes):
        p.error("--sizes: each size must be 1-1000 (one batch), each repeat count at least 1")
    if args.latency < 0 or not 0 <= args.jitter <= args.latency or args.calibration_latency <= 0:
        p.error("--latency must be >= --jitter >= 0, and --calibration-latency positive")
    return args


def _size(text: str) -> tuple[int, int]:
    """``"10x3"`` -> (10, 3); ``"100"`` -> (100, 1)."""
    size, _, repeats = text.strip().partition("x")
    return int(size), int(repeats or 1)


def source_settings(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The daemon's ``[sources.<name>]`` limits: the sandbox's rates and bursts, and workers.

    Workers (``max_concurrency``): at ``latency`` seconds a call, a source with ``c`` workers
    makes at most ``c / latency`` calls a second, so reaching a rate of ``r`` takes
    ``r * latency`` workers; ``auto`` gives enough for the slowest calls.
    """
    settings: dict[str, dict[str, Any]] = {}
    for name, rate in LIMITS.items():
        table: dict[str, Any] = {"rate_per_second": rate, "burst": math.ceil(rate)}
        if args.source_concurrency == "auto":
            table["max_concurrency"] = max(1, math.ceil(rate * (args.latency + args.jitter)))
        elif args.source_concurrency != "default":
            table["max_concurrency"] = int(args.source_concurrency)
        settings[name] = table
    return settings


def domains_for(size: int) -> list[str]:
    """``size`` distinct generated domains, the same on every run of that size."""
    return [f"makespan{size}-{i:04d}.com" for i in range(1, size + 1)]


def start_jobs(stack: Stack, domains: list[str], concurrency: int) -> None:
    """One POST: a single job for one domain, otherwise a batch."""
    with stack.client() as client:
        if len(domains) == 1:
            r = client.post(f"/api/v1/enrich/{domains[0]}", json={})
        else:
            body = {"domains": domains, "concurrency": min(concurrency, len(domains))}
            r = client.post("/api/v1/enrich/batch", json=body)
    if r.status_code != 202:
        raise BenchError(f"POST answered {r.status_code}: {r.text[:500]}")


def module_rows(stack: Stack, domains: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each domain's job status: its modules, flattened out of the waves."""
    rows: dict[str, list[dict[str, Any]]] = {}
    with stack.client() as client:
        for domain in domains:
            r = client.get(f"/api/v1/enrich/{domain}/status")
            r.raise_for_status()
            rows[domain] = [m for wave in r.json()["waves"] for m in wave["modules"]]
    return rows


Trips = dict[str, dict[str, int]]  # domain -> module -> sequential round trips


def module_trips(modules: list[dict[str, Any]], latency: float) -> dict[str, int]:
    """Each module's sequential round trips: its duration over the fixed latency, rounded.

    The daemon's own time per call is milliseconds against the latency's second. Calls a module
    makes side by side count once, which can only make the bound lower.
    """
    return {m["module_id"]: round((m["duration_seconds"] or 0.0) / latency) for m in modules}


def longest_path(cost: Mapping[str, float]) -> float:
    """The job's finish time if each module takes ``cost`` after its dependencies finished.

    Modules are visited in the plugin's order, which lists dependencies first.
    """
    finish: dict[str, float] = {}
    for spec in MODULES:
        if spec.id in cost:
            deps = [finish[d] for d in DEPENDENCIES[spec.id] if d in finish]
            finish[spec.id] = max(deps, default=0.0) + cost[spec.id]
    return max(finish.values(), default=0.0)


def expected_chain_seconds(trips: Trips, args: argparse.Namespace) -> float:
    """The mean, over random draws, of the slowest domain's chain at the run's latency.

    Each domain's chain is its longest path's round trips, each drawing its latency as the
    sandbox does (uniform within the jitter). For one domain that is round trips x the mean
    latency; for several, the makespan waits for the slowest of them, not the average one.
    Other paths of a domain are left out (their calls may be shared with the chain's, so they
    are not independent draws), which keeps this a lower bound.
    """
    rng = random.Random(args.seed)
    low, high = max(0.0, args.latency - args.jitter), args.latency + args.jitter
    chains = [int(longest_path(modules)) for modules in trips.values()]
    total = 0.0
    for _ in range(CHAIN_SAMPLES):
        total += max(sum(rng.uniform(low, high) for _ in range(k)) for k in chains)
    return total / CHAIN_SAMPLES


def calibrate(domains: list[str], args: argparse.Namespace) -> Trips:
    """Each domain's modules' round trips, from a run at a fixed latency without limits."""
    latency = args.calibration_latency
    unlimited = {name: None for name in LIMITS}
    # Workers too: a call waiting for a free worker would pass for a round trip.
    settings = {
        name: {
            "rate_per_second": UNLIMITED_RATE,
            "burst": int(UNLIMITED_RATE),
            "max_concurrency": CALIBRATION_WORKERS,
        }
        for name in LIMITS
    }
    with running_stack(
        latency=latency,
        keep=args.keep,
        sandbox_args=upstream_limit_args(unlimited),
        source_settings=settings,
        jobs={"max_concurrent_jobs": CALIBRATION_JOBS},
    ) as stack:
        # A few jobs at a time: the machine stays idle enough that durations are latency.
        start_jobs(stack, domains, CALIBRATION_JOBS)
        wait_until_idle(stack, timeout=args.timeout, what="the calibration run")
        rows = module_rows(stack, domains)
    return {d: module_trips(modules, latency) for d, modules in rows.items()}


def measure(size: int, repeats: int, args: argparse.Namespace) -> dict[str, Any]:
    """Calibrate, then enrich ``size`` domains ``repeats`` times; the figures and their means."""
    domains = domains_for(size)
    trips = calibrate(domains, args)
    chain = {
        "round_trips": int(max(longest_path(modules) for modules in trips.values())),
        "expected_s": round(expected_chain_seconds(trips, args), 3),
    }
    chain["at_mean_latency_s"] = round(chain["round_trips"] * args.latency, 3)
    runs = [run_once(domains, chain, args.seed + i, args) for i in range(repeats)]
    makespans = [run["makespan_s"] for run in runs]
    mean = sum(makespans) / len(makespans)
    bound = sum(run["lower_bound_s"] for run in runs) / len(runs)
    ratio = mean / bound if bound > 0 else None
    return {
        "domains": size,
        "repeats": repeats,
        "makespan_s": {"mean": round(mean, 3), "min": min(makespans), "max": max(makespans)},
        "lower_bound_s": round(bound, 3),
        "ratio": None if ratio is None else round(ratio, 3),
        "bound_by": runs[0]["bound_by"],
        "chain": runs[0]["chain"],
        "sources": runs[0]["sources"],
        "target": {"ratio": RATIO_TARGET, "met": ratio is not None and ratio <= RATIO_TARGET},
        "seed_reference_s": SEED_SECONDS.get(str(size)),
        "runs": [{k: v for k, v in run.items() if k not in ("chain", "sources")} for run in runs],
    }


def run_once(
    domains: list[str], chain: Mapping[str, Any], seed: int, args: argparse.Namespace
) -> dict[str, Any]:
    """One enrichment of ``domains`` at the real latency and limits, on fresh processes."""
    size = len(domains)
    with running_stack(
        latency=args.latency,
        jitter=args.jitter,
        seed=seed,
        keep=args.keep,
        sandbox_args=upstream_limit_args(LIMITS),
        source_settings=source_settings(args),
        jobs={
            "max_concurrent_jobs": args.concurrent_jobs,
            "max_batch_concurrency": max(100, args.concurrent_jobs),
        },
    ) as stack:
        started = time.perf_counter()
        start_jobs(stack, domains, args.concurrent_jobs)
        ended = wait_until_idle(stack, timeout=args.timeout, what=f"the {size} jobs")
        makespan = ended - started
        stats = stack.sandbox_stats()["upstreams"]
        outcome = job_outcomes(module_rows(stack, domains))
        daemon = stack.daemon.memory_kib()
    return {
        "seed": seed,
        "makespan_s": round(makespan, 3),
        **lower_bound(makespan, chain, stats, args),
        **outcome,
        "daemon": daemon,
    }


def lower_bound(
    makespan: float, chain: Mapping[str, Any], stats: Mapping[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    """The lower bound, what binds it, and the ratio of the makespan to it.

    The chain bounds the expected makespan (a single run can beat it by drawing short
    latencies). A source's ``n`` calls at rate ``r`` with a burst of ``b``: the last one leaves
    no sooner than ``(n - b) / r`` and answers no sooner than the shortest latency after that.
    """
    chain_s = float(chain["expected_s"])
    shortest = args.latency - args.jitter
    per_source: dict[str, dict[str, Any]] = {}
    for name, rate in LIMITS.items():
        entry = stats.get(name, {})
        calls = int(entry.get("requests", 0))
        burst = math.ceil(rate)
        bound = max(0, calls - burst) / rate + shortest if calls else 0.0
        per_source[name] = {
            "calls": calls,
            "rate": rate,
            "burst": burst,
            "bound_s": round(bound, 3),
            "violations": int(entry.get("violations", 0)),
        }
    busiest = max(per_source, key=lambda n: per_source[n]["bound_s"])
    rate_s = per_source[busiest]["bound_s"]
    bound = max(chain_s, rate_s)
    return {
        "lower_bound_s": round(bound, 3),
        "ratio": round(makespan / bound, 3) if bound > 0 else None,
        "bound_by": "chain" if chain_s >= rate_s else f"rate:{busiest}",
        "chain": dict(chain),
        "sources": per_source,
        "violations": sum(entry["violations"] for entry in per_source.values()),
    }


def job_outcomes(rows: Mapping[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """How the modules ended: counts by status, and failures by error code."""
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for modules in rows.values():
        for m in modules:
            statuses[m["status"]] += 1
            if m["status"] == "failed":
                errors[f"{m['module_id']}:{m.get('error')}"] += 1
    return {"modules": dict(sorted(statuses.items())), "module_errors": dict(errors)}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print one JSON line; 2 if the daemon or the sandbox did not start."""
    args = parse_args(argv)
    machine = machine_info()
    figures: dict[str, Any] = {
        "benchmark": "makespan",
        "latency": args.latency,
        "jitter": args.jitter,
        "limits": LIMITS,
        "source_concurrency": args.source_concurrency,
        "concurrent_jobs": args.concurrent_jobs,
        "calibration_latency": args.calibration_latency,
    }
    return run_sizes(
        "bench.makespan",
        figures,
        args.sizes,
        lambda size: measure(size[0], size[1], args),
        ratio_target=RATIO_TARGET,
        machine=machine,
    )


if __name__ == "__main__":
    sys.exit(main())
