"""Prometheus metrics of one engine, served at ``GET /metrics`` (docs/operations.md, "Metrics").

Two kinds. Counters and histograms are updated where things happen (an upstream attempt, a module
run, a cache lookup), each update a dict lookup and a lock. Gauges are read when Prometheus
scrapes, by :class:`EngineCollector`: jobs by status (the store's per-status counts), queues,
circuits, quotas, the store's size. So the daemon's hot paths, above all the API's status reads,
do no metrics work at all.

Each engine has its own :class:`~prometheus_client.CollectorRegistry`: tests run many engines in
one process, and the global default registry would mix them (and refuse the second engine's
metrics as duplicates).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import lmdb
import prometheus_client
import trio
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .. import __version__
from ._store import LMDB_DIRNAME

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = [
    "CONTENT_TYPE_LATEST",
    "EngineCollector",
    "Metrics",
    "SourceMetrics",
    "error_outcome",
    "response_outcome",
]

log = logging.getLogger("enrichd.metrics")

# The ``*_created`` series prometheus_client adds to every counter double the output and say
# nothing a restart's reset does not; this process is the daemon, so the switch is ours to flip.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

JOB_STATUSES: Sequence[str] = ("queued", "running", "completed", "failed", "cancelled")
CIRCUIT_STATES: Sequence[str] = ("closed", "open", "half_open")
#: Module durations run from a local computation (0.1 s) to the module timeout (300 s).
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
#: The label value of a module that calls no source.
NO_SOURCE = "none"


def response_outcome(status_code: int) -> str:
    """The ``outcome`` label of an upstream answer: ``ok`` for 2xx, else its class (``4xx``)."""
    return "ok" if 200 <= status_code < 300 else f"{status_code // 100}xx"


def error_outcome(code: str, status_code: int | None) -> str:
    """The ``outcome`` label of a failed attempt: ``429``, ``5xx``, or the error code."""
    if status_code == 429:
        return "429"
    if status_code is not None and status_code >= 500:
        return "5xx"
    return code  # timeout, connection_error, upstream_error, response_too_large, ...


def _source_families(
    registry: CollectorRegistry | None,
) -> tuple[Counter, Counter, Counter]:
    return (
        Counter(
            "enrichd_source_requests",
            "Upstream attempts by outcome (ok, 3xx, 4xx, 429, 5xx, timeout, connection_error, "
            "...) and calls refused without one (circuit_open, quota_exhausted, rate_limited)",
            ["source", "outcome"],
            registry=registry,
        ),
        Counter(
            "enrichd_source_rate_limit_waits",
            "Upstream attempts that waited for the source's rate limit (or a Retry-After pause)",
            ["source"],
            registry=registry,
        ),
        Counter(
            "enrichd_source_rate_limit_wait_seconds",
            "Seconds upstream attempts spent waiting for the source's rate limit",
            ["source"],
            registry=registry,
        ),
    )


class SourceMetrics:
    """One source actor's counters, bound to its name: what the actor calls where things happen."""

    def __init__(self, name: str, requests: Counter, waits: Counter, wait_seconds: Counter) -> None:
        self._name = name
        self._requests = requests
        # Label children cached by outcome: one dict lookup per attempt instead of labels().
        self._outcomes: dict[str, Counter] = {}
        self._waits = waits.labels(name)
        self._wait_seconds = wait_seconds.labels(name)

    @classmethod
    def detached(cls, name: str) -> SourceMetrics:
        """Counters registered nowhere, for an actor used without an engine (tools, tests)."""
        return cls(name, *_source_families(None))

    def request(self, outcome: str) -> None:
        """Count one attempt (or refused call) with ``outcome``."""
        child = self._outcomes.get(outcome)
        if child is None:
            child = self._outcomes[outcome] = self._requests.labels(self._name, outcome)
        child.inc()

    def waited(self, seconds: float) -> None:
        """Count one wait of ``seconds`` for the rate limiter."""
        self._waits.inc()
        self._wait_seconds.inc(seconds)


class Metrics:
    """The engine's registry: event counters, and the collector read at scrape time."""

    def __init__(self, engine: Engine) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self._source_families = _source_families(registry)
        self._durations = Histogram(
            "enrichd_module_duration_seconds",
            "Duration of module runs (successful or failed; not cache hits), by module and the "
            "source that served it",
            ["module", "source"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self._failures = Counter(
            "enrichd_module_failures",
            "Module runs that failed, by error code (a stale cache entry may have been served)",
            ["module", "code"],
            registry=registry,
        )
        self._hits = Counter(
            "enrichd_cache_hits",
            "Modules answered from the cache instead of running",
            ["module"],
            registry=registry,
        )
        self._misses = Counter(
            "enrichd_cache_misses",
            "Modules that found no usable cache entry and ran (forced refreshes not counted)",
            ["module"],
            registry=registry,
        )
        self.collector = EngineCollector(engine)
        registry.register(self.collector)
        # process_*: CPU seconds, resident memory, open file descriptors (from /proc, on Linux).
        prometheus_client.ProcessCollector(registry=registry)

    def source(self, name: str) -> SourceMetrics:
        """The counters of source ``name``, for its actor."""
        return SourceMetrics(name, *self._source_families)

    def module_ran(self, module: str, source: str | None, seconds: float) -> None:
        """A module's ``run`` ended after ``seconds`` (whatever the outcome)."""
        self._durations.labels(module, source or NO_SOURCE).observe(seconds)

    def module_failed(self, module: str, code: str) -> None:
        """A module's run failed with ``code``."""
        self._failures.labels(module, code).inc()

    def cache_hit(self, module: str) -> None:
        """A module was answered from the cache."""
        self._hits.labels(module).inc()

    def cache_miss(self, module: str) -> None:
        """A module looked in the cache and had to run."""
        self._misses.labels(module).inc()

    def render(self) -> bytes:
        """Every metric in the Prometheus text format (:data:`CONTENT_TYPE_LATEST`)."""
        return prometheus_client.generate_latest(self.registry)


def _now() -> float:
    try:
        return trio.current_time()
    except RuntimeError:
        # Outside Trio (a tool reading the registry): circuits read as of their last change.
        return float("-inf")


class EngineCollector(Collector):
    """Gauges read from the store, the scheduler and the source actors when Prometheus scrapes."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def collect(self) -> Iterable[Metric]:
        """The current values (a few dict reads, per-status counts and two ``stat`` calls)."""
        yield from self._daemon()
        yield from self._sources()
        yield from self._store()

    def _daemon(self) -> Iterable[Metric]:
        engine = self._engine
        info = GaugeMetricFamily(
            "enrichd_build_info", "The running enrichd's version", labels=["version"]
        )
        info.add_metric([__version__], 1)
        yield info
        yield GaugeMetricFamily(
            "enrichd_queue_depth",
            "Jobs waiting for a slot to start",
            value=engine.scheduler.queue_depth,
        )
        yield GaugeMetricFamily(
            "enrichd_job_slots",
            "Jobs that may run at once (jobs.max_concurrent_jobs)",
            value=engine.scheduler.max_concurrent,
        )
        yield CounterMetricFamily(
            "enrichd_jobs_admitted",
            "Jobs the scheduler started since the daemon started (resumed jobs included)",
            value=engine.scheduler.admitted,
        )

    def _sources(self) -> Iterable[Metric]:
        now = _now()
        configured = GaugeMetricFamily(
            "enrichd_source_configured",
            "1 if the source can be used (enabled, keyed, key not refused upstream), else 0",
            labels=["source"],
        )
        circuit = GaugeMetricFamily(
            "enrichd_source_circuit_state",
            "1 for the state the source's circuit breaker is in (closed, open, half_open)",
            labels=["source", "state"],
        )
        quota_left = GaugeMetricFamily(
            "enrichd_source_quota_remaining",
            "Calls left today (UTC) under the source's daily quota (sources with a quota only)",
            labels=["source"],
        )
        quota_limit = GaugeMetricFamily(
            "enrichd_source_quota_limit",
            "The source's daily quota (sources with a quota only)",
            labels=["source"],
        )
        waiting = GaugeMetricFamily(
            "enrichd_source_queue_depth",
            "Requests waiting in the source's inbox for a worker",
            labels=["source"],
        )
        in_flight = GaugeMetricFamily(
            "enrichd_source_in_flight",
            "Requests a worker of the source is handling now",
            labels=["source"],
        )
        for name, actor in self._engine.sources.items():
            configured.add_metric([name], 1 if actor.configured else 0)
            state = actor.circuit.state(now)
            for candidate in CIRCUIT_STATES:
                circuit.add_metric([name, candidate], 1 if candidate == state else 0)
            remaining = actor.quota.remaining
            if remaining is not None and actor.quota.limit is not None:
                quota_left.add_metric([name], remaining)
                quota_limit.add_metric([name], actor.quota.limit)
            waiting.add_metric([name], actor.queue_depth)
            in_flight.add_metric([name], actor.in_flight)
        yield from (configured, circuit, quota_left, quota_limit, waiting, in_flight)

    def _store(self) -> Iterable[Metric]:
        store = self._engine.store
        jobs = GaugeMetricFamily("enrichd_jobs", "Jobs in the store by status", labels=["status"])
        try:
            for status in JOB_STATUSES:
                jobs.add_metric([status], store.count_status(status))
            info = store.env.info()
            page = store.env.stat()["psize"]
        except lmdb.Error as exc:
            # A scrape must not fail because the store does: the other metrics still help.
            log.warning("metrics: cannot read the store: %s", exc)
            return
        yield jobs
        yield GaugeMetricFamily(
            "enrichd_store_map_size_bytes",
            "The LMDB map size (the most the store can hold before it grows)",
            value=info["map_size"],
        )
        yield GaugeMetricFamily(
            "enrichd_store_used_bytes",
            "Bytes of the map in use (LMDB's last page; freed pages are reused, not returned)",
            value=(info["last_pgno"] + 1) * page,
        )
        try:
            size = os.stat(store.path / LMDB_DIRNAME / "data.mdb").st_size
        except OSError:
            size = None
        if size is not None:
            yield GaugeMetricFamily(
                "enrichd_store_file_bytes", "Size of the LMDB data file on disk", value=size
            )
        yield GaugeMetricFamily(
            "enrichd_store_unsaved_jobs",
            "Job records held in memory because the data directory cannot be written",
            value=len(store.unsaved_jobs),
        )
        yield GaugeMetricFamily(
            "enrichd_store_writable",
            "0 while the last write to the data directory failed (new jobs are refused), else 1",
            value=0 if self._engine.writer.last_error is not None else 1,
        )
