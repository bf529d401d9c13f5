"""The Engine: the daemon's actors wired together, and the operations the API calls.

Every operation that changes state goes through the StoreWriter and is durable before it returns;
every read comes from LMDB. The in-memory parts (the scheduler's queue, the set of domains with an
active job) are rebuilt from the store at start-up.
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

import httpx
import msgspec
import trio

from .. import _logging
from .._time import WallClock, compact, system_clock
from ..config import Config, ConfigError, ResolvedSource, read_secret, split_source_table
from ..plugins._manager import Registry
from ..plugins._types import Priority, SourceSpec, all_dependencies
from ._cache import CachePolicy, is_hit
from ._errors import Conflict, Invalid, NotFound, Unavailable
from ._metrics import Metrics
from ._records import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    Batch,
    CacheHead,
    Job,
    ModuleState,
    SkippedDomain,
    mark_cancelled,
)
from ._scheduler import Scheduler
from ._sources import SourceActor
from ._store import PutBatch, PutJob, StorageError, Store
from ._supervisor import JobSupervisor
from ._writer import StoreWriter

#: Domains a batch plans between two checkpoints (see :meth:`Engine.start_batch`).
_BATCH_SLICE = 100

log = logging.getLogger("enrichd.engine")

#: Seconds a source call is assumed to take until one has been observed (the spec's 2-5 s).
DEFAULT_CALL_SECONDS = 3.5
#: Seconds assumed for a module that calls no external source.
LOCAL_MODULE_SECONDS = 0.1

#: When (trio time) the HTTP request being handled arrived; set by the server for each request.
#: A request that arrived before the daemon began to stop is not refused as new work.
REQUEST_ARRIVED: ContextVar[float | None] = ContextVar("enrichd_request_arrived", default=None)


class JobRequest(msgspec.Struct, kw_only=True):
    """What a client asks for when starting a job (already type-checked by the API)."""

    modules: list[str] | None = None
    waves: list[int] | None = None
    force: bool = False
    priority: Priority = "normal"


def resolve_sources(
    registry: Registry, config: Config
) -> dict[str, tuple[SourceSpec, ResolvedSource]]:
    """Overlay each source's defaults with ``[sources.<name>]`` and its secrets."""
    failed_plugins = [p.name for p in registry.plugins if p.status == "failed"]
    for name in config.sources:
        if name not in registry.sources:
            hint = (
                f" (plugins that failed to load: {', '.join(failed_plugins)})"
                if failed_plugins
                else ""
            )
            raise ConfigError(
                f"sources.{name}: no plugin provides a source named {name!r}; known sources: "
                + ", ".join(registry.sources)
                + hint
            )
    resolved: dict[str, tuple[SourceSpec, ResolvedSource]] = {}
    for name, spec in registry.sources.items():
        settings, rest = split_source_table(name, config.sources.get(name, {}))
        options: Any = None
        if spec.options_type is not None:
            try:
                options = msgspec.convert(rest, spec.options_type)
            except msgspec.ValidationError as exc:
                raise ConfigError(f"sources.{name}: {exc}") from None
        elif rest:
            raise ConfigError(f"unknown key 'sources.{name}.{next(iter(rest))}'")
        api_key = read_secret(
            f"{name}-api-key", f"ENRICHD_{name.upper()}_API_KEY", settings.api_key
        )

        def pick(value: Any, default: Any) -> Any:
            return default if value is None else value

        source = ResolvedSource(
            name=name,
            base_url=pick(settings.base_url, spec.base_url),
            api_key=api_key,
            rate_per_second=pick(settings.rate_per_second, spec.rate_per_second),
            burst=pick(settings.burst, spec.burst),
            daily_quota=pick(settings.daily_quota, spec.daily_quota),
            max_concurrency=pick(settings.max_concurrency, spec.max_concurrency),
            timeout_seconds=pick(settings.timeout_seconds, spec.timeout_seconds),
            max_retries=pick(settings.max_retries, spec.max_retries),
            enabled=settings.enabled,
            options=options,
            auth=spec.auth,
            circuit_failure_threshold=pick(settings.circuit_failure_threshold, 5),
            circuit_reset_seconds=pick(settings.circuit_reset_seconds, 30.0),
        )
        if spec.configure is not None:
            source = spec.configure(source, registry)
        resolved[name] = (spec, source)
    for mid in config.modules:
        if mid not in registry.modules:
            raise ConfigError(
                f"modules.{mid}: no such module; known modules: " + ", ".join(registry.modules)
            )
    return resolved


class Engine:
    """Jobs, batches and the cache, over the store, the scheduler and the source actors."""

    def __init__(
        self,
        config: Config,
        registry: Registry,
        store: Store,
        *,
        clock: WallClock = system_clock,
        transport: httpx.AsyncBaseTransport | None = None,
        commit_in_thread: bool = True,
    ) -> None:
        self.config = config
        self.registry = registry
        self.store = store
        self.clock = clock
        self.cache_policy = CachePolicy(registry, config.cache)
        # A [modules.<id>] table its module would refuse stops start-up, naming the key.
        registry.check_module_options(config.modules)
        self.writer = StoreWriter(store, in_thread=commit_in_thread)
        self.sources: dict[str, SourceActor] = {
            name: SourceActor(spec, settings, transport=transport)
            for name, (spec, settings) in resolve_sources(registry, config).items()
        }
        #: Prometheus metrics (``GET /metrics``), in a registry of this engine's own.
        self.metrics = Metrics(self)
        for name, actor in self.sources.items():
            actor.metrics = self.metrics.source(name)
        self.scheduler = Scheduler(config.jobs.max_concurrent_jobs, self._run_job)
        self._seq = store.max_seq()
        # Domains with a queued or running job, claimed synchronously before the job's record is
        # written, so two concurrent starts for one domain cannot both succeed.
        self._active: dict[str, str] = {}
        self._stop_time: float | None = None
        self.ready = trio.Event()

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        """Whether the daemon is stopping: new jobs and other writes are refused then (503).

        An HTTP request that arrived before the stop began (:data:`REQUEST_ARRIVED`) is not new
        work: it finishes as if the stop had not come, and a job it starts stays queued on disk.
        """
        if self._stop_time is None:
            return False
        arrived = REQUEST_ARRIVED.get()
        return arrived is None or arrived >= self._stop_time

    @stopping.setter
    def stopping(self, value: bool) -> None:
        if not value:
            self._stop_time = None
        elif self._stop_time is None:
            self._stop_time = trio.current_time()

    @asynccontextmanager
    async def running(self) -> Any:
        """Run the writer, the source actors and the scheduler for the duration of the block.

        Leaving the block normally stops gracefully (:meth:`stop_jobs`): running jobs are written
        back as queued. Leaving it by an exception, a cancellation included, stops at once:
        running jobs stay as last written, and the next start resumes them as after a crash.
        Either way, what was handed to the writer is committed before it stops.
        """
        async with trio.open_nursery() as outer:
            await outer.start(self._run_writer)
            try:
                async with trio.open_nursery() as inner:
                    for actor in self.sources.values():
                        await inner.start(actor.run)
                    await inner.start(self.scheduler.run)
                    await self._resume()
                    self.ready.set()
                    try:
                        yield self
                        await self.stop_jobs()
                    finally:
                        self.stopping = True
                        inner.cancel_scope.cancel(reason="daemon stopping")
            finally:
                self.writer.close()

    async def _run_writer(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        # Shielded, so only close() ends it: a job finishing a shielded save (a result, a cancel,
        # a checkpoint) must find the writer alive even when the daemon is cancelled from outside.
        with trio.CancelScope(shield=True):
            await self.writer.run(task_status=task_status)

    async def stop_jobs(self) -> None:
        """Stop for a shutdown: refuse new jobs, start no queued one, and write every running job
        back as queued, for the next start to resume.

        Completed modules keep their outputs; modules that were running start over then. Returns
        once every job is written back.
        """
        self.stopping = True
        interrupted = await self.scheduler.stop()
        if interrupted:
            log.info(
                "%d running jobs written back as queued; the next start resumes them", interrupted
            )

    async def _resume(self) -> None:
        """Re-queue the jobs an earlier run left queued or running."""
        jobs = sorted(self.store.active_jobs(), key=lambda j: j.seq)
        batches: set[str] = set()
        for job in jobs:
            self._active[job.domain] = job.job_id
            log.debug(
                "job %s re-queued (%s)",
                job.job_id,
                job.domain,
                extra={"event": "job.resumed", "job_id": job.job_id, "domain": job.domain},
            )
            if job.batch_id is not None and job.batch_id not in batches:
                batch = self.store.get_batch(job.batch_id)
                if batch is not None:
                    self.scheduler.set_batch_limit(batch.batch_id, batch.concurrency)
                batches.add(job.batch_id)
            self.scheduler.enqueue(job.job_id, job.priority, job.seq, job.batch_id)
        if jobs:
            log.info("resumed %d jobs left queued or running by an earlier run", len(jobs))

    async def _run_job(self, job_id: str, scope: trio.CancelScope) -> None:
        job = self.store.get_job(job_id)
        if job is None or job.status not in ACTIVE_STATUSES:
            self.release_domain(job_id, job.domain if job else None)
            return
        # Every record logged in this job's tasks carries its id and domain (enrichd/_logging).
        context = _logging.bind(job_id=job_id, domain=job.domain)
        try:
            await JobSupervisor(self, job).run(scope)
        finally:
            _logging.unbind(context)
            if job.status in TERMINAL_STATUSES:
                self.release_domain(job_id, job.domain)

    def redact(self, text: str) -> str:
        """``text`` with every source's API key replaced by ``***``."""
        for actor in self.sources.values():
            text = actor.redact(text)
        return text

    def release_domain(self, job_id: str, domain: str | None) -> None:
        """Let ``domain`` take a new job once ``job_id`` is finishing."""
        if domain is not None and self._active.get(domain) == job_id:
            del self._active[domain]

    # -- estimates ------------------------------------------------------------------------------

    def _module_seconds(self, module_id: str) -> float:
        spec = self.registry.modules[module_id]
        for name in spec.sources:
            actor = self.sources.get(name)
            if actor is not None:
                return actor.observed_latency or DEFAULT_CALL_SECONDS
        return LOCAL_MODULE_SECONDS

    def estimate_job_seconds(
        self,
        modules: Iterable[str],
        domain: str | None,
        force: bool,
        heads: Mapping[str, CacheHead] | None = None,
    ) -> float:
        """The job's critical path: the longest dependency chain of module latencies.

        Modules the cache will answer cost nothing; latencies are the sources' observed ones.
        ``heads`` is the domain's cache (:meth:`Store.cache_heads`), read here if not given.
        """
        wanted = set(modules)
        now = self.clock()
        if heads is None:
            heads = self.store.cache_heads(domain) if domain is not None and not force else {}
        finish: dict[str, float] = {}
        for mid in self.registry.ordered(wanted):
            cost = self._module_seconds(mid)
            if not force and is_hit(heads.get(mid), now):
                cost = 0.0
            spec = self.registry.modules[mid]
            deps = [finish[d] for d in all_dependencies(spec) if d in finish]
            finish[mid] = max(deps, default=0.0) + cost
        return max(finish.values(), default=0.0)

    def _queue_wait_seconds(self, priority: str, job_seconds: float) -> float:
        ahead = self.scheduler.queued_ahead(priority)
        running = self.scheduler.running_count
        slots = self.scheduler.max_concurrent
        if running + ahead < slots:
            return 0.0
        return (ahead + running - slots + 1) / slots * job_seconds

    # -- jobs -----------------------------------------------------------------------------------

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def select_modules(
        self, modules: Sequence[str] | None, waves: Sequence[int] | None
    ) -> list[str]:
        """The modules a request selects: ``modules`` ∩ ``waves`` (each defaulting to all)."""
        known = self.registry.modules
        if modules is not None:
            unknown = [m for m in modules if m not in known]
            if unknown:
                raise Invalid(
                    "unknown_module",
                    f"unknown module id(s): {', '.join(unknown)}; valid ids: {', '.join(known)}",
                    details={"unknown": unknown, "valid": list(known)},
                )
        if waves is not None:
            bad = [w for w in waves if w not in self.registry.waves]
            if bad:
                raise Invalid(
                    "invalid_wave",
                    f"wave(s) {bad} do not exist; waves are "
                    + ", ".join(str(w) for w in self.registry.waves),
                )
        selected = [
            m
            for m, spec in known.items()
            if (modules is None or m in modules) and (waves is None or spec.wave in waves)
        ]
        if not selected:
            raise Invalid(
                "empty_selection",
                "the requested modules and waves select no module: "
                "modules and waves are intersected",
            )
        return selected

    def _plan(self, requested: list[str], heads: Mapping[str, CacheHead]) -> list[str]:
        """Requested modules plus dependencies that have no usable entry in the domain's cache
        (``heads``)."""
        now = self.clock()
        plan = set(requested)
        stack = list(requested)
        while stack:
            for dep in all_dependencies(self.registry.modules[stack.pop()]):
                if dep in plan:
                    continue
                if is_hit(heads.get(dep), now):
                    continue
                plan.add(dep)
                stack.append(dep)
        return self.registry.ordered(plan)

    def _check_not_active(self, domain: str) -> None:
        active = self._active.get(domain)
        if active is not None:
            raise Conflict(
                "job_active",
                f"{domain} already has an active job {active}; cancel it or wait for it",
                details={"job_id": active},
            )

    def _new_job(
        self,
        domain: str,
        requested: list[str],
        *,
        force: bool,
        priority: Priority,
        waves: Sequence[int] | None,
        batch_id: str | None = None,
        retry_of: str | None = None,
    ) -> Job:
        now = self.clock()
        heads = self.store.cache_heads(domain)
        modules = self._plan(requested, heads)
        estimate = self.estimate_job_seconds(modules, domain, force, heads)
        estimate += self._queue_wait_seconds(priority, estimate)
        wanted = set(requested)
        return Job(
            job_id=f"enrich_{domain.replace('.', '_').replace('-', '_')}_{compact(now)}_"
            f"{secrets.token_hex(4)}",
            domain=domain,
            status="queued",
            priority=priority,
            force=force,
            modules=modules,
            waves=sorted(
                set(waves)
                if waves is not None
                else {self.registry.modules[m].wave for m in modules}
            ),
            created_at=now,
            seq=self._next_seq(),
            module_states={
                m: ModuleState(
                    module_id=m, wave=self.registry.modules[m].wave, requested=m in wanted
                )
                for m in modules
            },
            estimated_time_seconds=max(1, math.ceil(estimate)),
            batch_id=batch_id,
            retry_of=retry_of,
        )

    def _check_accepting(self) -> None:
        if self.stopping:
            raise Unavailable("shutting_down", "the daemon is shutting down; retry shortly")
        self._check_storage()

    def _check_storage(self) -> None:
        """Refuse new jobs while the data directory cannot be written (until a write succeeds)."""
        failure = self.writer.last_error
        if failure is not None:
            raise Unavailable(
                "storage_unavailable",
                f"{failure.message}; new jobs are refused until it can be written again",
                details=failure.details,
            )

    async def start_job(self, domain: str, request: JobRequest) -> Job:
        """Create a job, make it durable, and queue it."""
        self._check_accepting()
        requested = self.select_modules(request.modules, request.waves)
        self._check_not_active(domain)
        job = self._new_job(
            domain, requested, force=request.force, priority=request.priority, waves=request.waves
        )
        await self._commit_new_jobs([job])
        return job

    async def _commit_new_jobs(self, jobs: list[Job], *extra: PutBatch) -> None:
        for job in jobs:
            self._active[job.domain] = job.job_id
        try:
            await self.writer.write(*extra, *(PutJob.of(j) for j in jobs))
        except BaseException:
            for job in jobs:
                self.release_domain(job.job_id, job.domain)
            raise
        for job in jobs:
            self.scheduler.enqueue(job.job_id, job.priority, job.seq, job.batch_id)
            log.info(
                "job %s queued (%s, %s priority, %d modules)",
                job.job_id,
                job.domain,
                job.priority,
                len(job.modules),
                extra={
                    "event": "job.queued",
                    "job_id": job.job_id,
                    "domain": job.domain,
                    "priority": job.priority,
                    "batch_id": job.batch_id,
                    "retry_of": job.retry_of,
                },
            )

    async def start_batch(
        self,
        domains: list[tuple[str, str | None, str | None]],
        request: JobRequest,
        concurrency: int,
    ) -> tuple[Batch, list[Job]]:
        """Start one job per valid, inactive domain.

        ``domains`` holds (raw input, normalised domain or None, why it is invalid or None).
        """
        self._check_accepting()
        requested = self.select_modules(request.modules, request.waves)
        now = self.clock()
        batch_id = f"batch_{compact(now)}_{secrets.token_hex(4)}"
        seen: set[str] = set()
        jobs: list[Job] = []
        skipped: list[SkippedDomain] = []
        try:
            for i, (raw, domain, why) in enumerate(domains):
                if i and i % _BATCH_SLICE == 0:
                    # Planning a job takes ~0.1 ms: a batch of 1,000 would hold every other
                    # request (status reads) for that long without these checkpoints.
                    await trio.lowlevel.checkpoint()
                if domain is None:
                    skipped.append(
                        SkippedDomain(domain=raw, reason="invalid_domain", message=why or "invalid")
                    )
                    continue
                if domain in seen:
                    continue  # duplicates collapse into one job
                seen.add(domain)
                active = self._active.get(domain)
                if active is not None:
                    skipped.append(
                        SkippedDomain(
                            domain=domain,
                            reason="job_active",
                            message=f"{domain} already has an active job {active}",
                            job_id=active,
                        )
                    )
                    continue
                job = self._new_job(
                    domain,
                    requested,
                    force=request.force,
                    priority=request.priority,
                    waves=request.waves,
                    batch_id=batch_id,
                )
                # Reserved at once: a request served at the next checkpoint must see it taken.
                self._active[domain] = job.job_id
                jobs.append(job)
            batch = Batch(
                batch_id=batch_id,
                created_at=now,
                concurrency=concurrency,
                priority=request.priority,
                job_ids=[j.job_id for j in jobs],
                skipped=skipped,
                total_domains=len(seen) + sum(1 for s in skipped if s.reason == "invalid_domain"),
            )
            self.scheduler.set_batch_limit(batch_id, concurrency)
            await self._commit_new_jobs(jobs, PutBatch(batch))
        except BaseException:
            for job in jobs:
                self.release_domain(job.job_id, job.domain)
            raise
        return batch, jobs

    def batch_estimate_seconds(self, jobs: list[Job], concurrency: int, priority: str) -> int:
        """Waves of ``concurrency`` jobs, each as long as the longest job estimate."""
        if not jobs:
            return 0
        per_job = (
            max(self.estimate_job_seconds(j.modules, j.domain, j.force) for j in jobs)
            or LOCAL_MODULE_SECONDS
        )
        width = min(concurrency, self.scheduler.max_concurrent)
        rounds = math.ceil(len(jobs) / width)
        return max(1, math.ceil(rounds * per_job + self._queue_wait_seconds(priority, per_job)))

    def find_job(self, domain: str, job_id: str | None, *, finished_only: bool = False) -> Job:
        """``job_id`` (which must belong to ``domain``), or the domain's latest job."""
        if job_id is not None:
            job = self.store.get_job(job_id)
            if job is None or job.domain != domain:
                raise NotFound("job_not_found", f"no job {job_id!r} for {domain}")
            return job
        for job in self.store.domain_jobs(domain):
            if not finished_only or job.status in TERMINAL_STATUSES:
                return job
        if finished_only:
            raise NotFound("job_not_found", f"{domain} has no finished job yet")
        raise NotFound("job_not_found", f"no enrichment job for {domain}")

    async def cancel(self, domain: str, job_id: str | None) -> Job:
        """Cancel a queued or running job; completed modules keep their data."""
        if job_id is None:
            active = self._active.get(domain) or self.store.active_job_id(domain)
            if active is None:
                raise NotFound("job_not_found", f"{domain} has no queued or running job")
            job_id = active
        job = self.find_job(domain, job_id)
        if job.status in TERMINAL_STATUSES:
            raise Conflict(
                "job_finished",
                f"job {job.job_id} already finished ({job.status}); nothing to cancel",
                details={"job_id": job.job_id, "status": job.status},
            )
        if self.scheduler.cancel_queued(job.job_id):
            mark_cancelled(job, self.clock())
            self.release_domain(job.job_id, domain)
            try:
                await self.writer.write(PutJob.of(job))
            except StorageError:
                # Cancelled all the same (it left the queue): the record is held, visible to
                # reads, and written once storage works again.
                self.writer.hold(PutJob.of(job))
            log.info(
                "job %s cancelled while queued (%s)",
                job.job_id,
                domain,
                extra={"event": "job.cancelled", "job_id": job.job_id, "domain": domain},
            )
            return job
        done_event = self.scheduler.cancel_running(job.job_id)
        if done_event is not None:
            await done_event.wait()
        final = self.store.get_job(job.job_id)
        assert final is not None
        if final.status not in TERMINAL_STATUSES:
            raise Conflict("job_not_cancellable", f"job {job.job_id} could not be cancelled now")
        return final

    async def retry(self, domain: str, failed_modules_only: bool) -> Job:
        """A new forced job for the failed (and consequently skipped) modules of the latest
        job with failures."""
        self._check_accepting()
        self._check_not_active(domain)
        latest_failed: Job | None = None
        any_job = False
        # Modules that succeeded in a job newer than the failed one need no retry.
        fixed_later: set[str] = set()
        for job in self.store.domain_jobs(domain):
            any_job = True
            if job.status in TERMINAL_STATUSES and any(
                s.status == "failed" and m not in fixed_later for m, s in job.module_states.items()
            ):
                latest_failed = job
                break
            fixed_later.update(
                m for m, s in job.module_states.items() if s.status in ("completed", "cached")
            )
        if latest_failed is None:
            if not any_job:
                raise NotFound("job_not_found", f"no enrichment job for {domain}")
            raise Conflict("nothing_to_retry", f"no job of {domain} has failed modules")
        states = latest_failed.module_states
        if failed_modules_only:
            failed = {m for m, s in states.items() if s.status == "failed" and m not in fixed_later}
            blocked = self.registry.downstream(failed)
            modules = [
                m
                for m, s in states.items()
                if m in self.registry.modules
                and (m in failed or (s.status in ("skipped", "cancelled") and m in blocked))
            ]
        else:
            modules = [m for m in latest_failed.modules if m in self.registry.modules]
        if not modules:
            raise Conflict(
                "nothing_to_retry",
                f"the modules that failed in {latest_failed.job_id} are no longer installed",
            )
        job = self._new_job(
            domain,
            self.registry.ordered(modules),
            force=True,
            priority=latest_failed.priority,
            waves=None,
            retry_of=latest_failed.job_id,
        )
        await self._commit_new_jobs([job])
        return job
