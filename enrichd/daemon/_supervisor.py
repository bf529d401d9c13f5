"""The JobSupervisor: runs one job's modules as a dependency graph and records every transition."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import trio

from .. import _logging
from .._time import iso
from ..intel import IntelConfig
from ..plugins._types import (
    CaseStudy,
    Citation,
    ModuleError,
    ModuleResult,
    ModuleSpec,
    Source,
    SourceNotConfigured,
    SourceResponse,
    all_dependencies,
)
from ._cache import is_hit
from ._records import (
    MODULE_DONE,
    TERMINAL_STATUSES,
    CacheEntry,
    Job,
    ModuleOutput,
    ModuleState,
    mark_cancelled,
)
from ._store import InvalidateCache, Op, PutCache, PutJob, PutOutput, StorageError

if TYPE_CHECKING:
    from ._engine import Engine

log = logging.getLogger("enrichd.jobs")

_TERMINAL = frozenset({"completed", "cached", "failed", "skipped", "cancelled"})

#: Prefixed to the title of every citation built from sandbox answers.
SANDBOX_LABEL = "[sandbox: simulated] "


class _Context:
    """The :class:`~enrichd.plugins.ModuleContext` handed to a module's ``run``."""

    def __init__(self, sup: JobSupervisor, spec: ModuleSpec) -> None:
        self._sup = sup
        self._spec = spec
        self.domain = sup.job.domain
        self.job_id = sup.job.job_id
        self.module_id = spec.id
        self.options: Mapping[str, Any] = sup.engine.config.modules.get(spec.id, {})
        #: Set once any answer a source handed this module came from the sandbox.
        self.simulated = False

    def source_configured(self, name: str) -> bool:
        actor = self._sup.engine.sources.get(name)
        return actor is not None and actor.configured

    def source(self, name: str) -> Source:
        actor = self._sup.engine.sources.get(name)
        if actor is None:
            raise SourceNotConfigured(name, why="no installed plugin provides it")
        if not actor.configured:
            raise SourceNotConfigured(name, why=actor.why_not_configured())
        return actor.handle(self._sup.job.priority, observer=self._observe)

    def citations(self, module_id: str) -> list[Citation]:
        self.dependency(module_id)  # the same checks: declared, and has data
        return list(self._sup.outputs[module_id].citations)

    def previous(self, module_id: str | None = None) -> Mapping[str, Any] | None:
        entry = self._sup.engine.store.get_cache(self.domain, module_id or self.module_id)
        return entry.data if entry is not None else None

    def case_studies(self) -> list[CaseStudy]:
        return self._sup.engine.store.list_case_studies()

    @property
    def intel(self) -> IntelConfig:
        return self._sup.engine.config.intel

    def _observe(self, response: SourceResponse) -> None:
        if response.simulated:
            self.simulated = True

    def dependency(self, module_id: str) -> Mapping[str, Any]:
        if module_id not in all_dependencies(self._spec):
            raise ModuleError(
                "undeclared_dependency",
                f"{self._spec.id} read {module_id} without declaring it in depends_on",
            )
        output = self._sup.outputs.get(module_id)
        if output is None:
            raise ModuleError("dependency_missing", f"no data for dependency {module_id}")
        return output.data


class JobSupervisor:
    """Owns one running job: starts each module once its dependencies are done."""

    def __init__(self, engine: Engine, job: Job) -> None:
        self.engine = engine
        self.job = job
        self.outputs: dict[str, ModuleOutput] = {}
        self._progress = trio.Event()
        #: The save that modules starting now join (see :meth:`_save_start`).
        self._start_save: trio.Event | None = None
        #: Set once a save failed because the data directory cannot be written: the job is over.
        self._storage_failure: StorageError | None = None

    def _now(self) -> float:
        return self.engine.clock()

    async def _save(self, *extra: Op) -> None:
        if self._storage_failure is not None:
            return  # the job already ended on a storage fault; its record is held
        try:
            await self.engine.writer.write(*extra, PutJob.of(self.job))
        except StorageError as exc:
            self._storage_failed(exc)

    async def _save_start(self) -> None:
        """Save a module's start, in one record with the other modules of its wave.

        The modules the supervisor starts together all mark themselves running in the same
        scheduling round; the first waits for one checkpoint so the others can join, then writes
        the job once for all of them (each save encodes the whole job record).
        """
        pending = self._start_save
        if pending is not None:
            await pending.wait()
            return
        pending = self._start_save = trio.Event()
        try:
            await trio.lowlevel.checkpoint()
            self._start_save = None
            await self._save()
        finally:
            if self._start_save is pending:
                self._start_save = None
            pending.set()

    async def _save_result(self, *ops: Op) -> None:
        """Save a finished module's state with its output, shielded from cancellation.

        The state in memory already says the module is done: a cancel (a user's, or a shutdown)
        landing here must not leave a later record that claims data never written, and the
        upstream call was made, so its result is worth keeping. The writer outlives every job.
        """
        with trio.CancelScope(shield=True):
            await self._save(*ops)

    def _storage_failed(self, exc: StorageError) -> None:
        """End the job because its record cannot be written, without taking anything else down.

        An unfinished job fails: modules not done, and done modules whose output never reached
        the disk, fail with ``storage_error``. A job that had just finished keeps its outcome. The
        domain is released, the running modules are cancelled (their results could not be kept),
        and the record is held by the writer: reads show it at once, and it is written when a
        write succeeds again.
        """
        job = self.job
        self._storage_failure = exc
        if job.status not in TERMINAL_STATUSES:
            now = self._now()
            store = self.engine.store
            for mid, state in job.module_states.items():
                lost = state.status in ("completed", "cached") and (
                    store.get_output(job.job_id, mid) is None
                )
                if state.status in ("pending", "running") or lost:
                    state.status = "failed"
                    state.error_code = "storage_error"
                    state.error_message = exc.message
                    state.finished_at = now
            job.status = "failed"
            job.completed_at = now
            job.message = exc.message
        log.error(
            "job %s %s: %s",
            job.job_id,
            job.status,
            exc.message,
            extra=_job_event(job, error="storage_error"),
        )
        self.engine.release_domain(job.job_id, job.domain)
        self.engine.scheduler.cancel_running(job.job_id, reason="storage failure")
        self.engine.writer.hold(PutJob.of(job))

    async def run(self, cancel_scope: trio.CancelScope) -> None:
        """Run the job to a terminal state (or until the daemon stops, leaving it resumable)."""
        job = self.job
        store = self.engine.store
        registry = self.engine.registry
        # Resume: keep what finished in an earlier run, redo what was interrupted.
        self.outputs = store.outputs(job.job_id)
        for state in job.module_states.values():
            if state.status == "running" or (
                state.status in ("completed", "cached") and state.module_id not in self.outputs
            ):
                state.status = "pending"
                state.started_at = None
        # Dependencies that were not requested read the cache, as decided when the job was made.
        for spec in (registry.modules[m] for m in job.modules if m in registry.modules):
            for dep in all_dependencies(spec):
                if dep not in job.module_states and dep not in self.outputs:
                    entry = store.get_cache(job.domain, dep)
                    if entry is not None:
                        self.outputs[dep] = _output_from_cache(entry, self._now())
        job.status = "running"
        if job.started_at is None:
            job.started_at = self._now()
        await self._save()
        log.info(
            "job %s started (%s, %d modules)",
            job.job_id,
            job.domain,
            len(job.modules),
            extra=_job_event(job),
        )

        with cancel_scope:
            async with trio.open_nursery() as nursery:
                started: set[str] = set()
                while True:
                    self._skip_blocked()
                    ready = [
                        m
                        for m in job.modules
                        if m not in started
                        and job.module_states[m].status == "pending"
                        and self._deps_done(m)
                    ]
                    for mid in ready:
                        started.add(mid)
                        nursery.start_soon(self._run_module, mid, name=f"{job.job_id}:{mid}")
                    if all(s.status in MODULE_DONE for s in job.module_states.values()):
                        break
                    self._progress = trio.Event()
                    await self._progress.wait()

        if self._storage_failure is not None:
            return  # ended by _storage_failed; nothing more can be written
        if cancel_scope.cancelled_caught or cancel_scope.cancel_called:
            if not self.engine.scheduler.stopped_for_shutdown(job.job_id):
                await self._finish_cancelled()
                return
            if not all(s.status in MODULE_DONE for s in job.module_states.values()):
                await self._checkpoint()
                return
            # Every module had finished when the shutdown came: the job is simply done.
        await self._finish()

    def _deps_done(self, mid: str) -> bool:
        spec = self.engine.registry.modules.get(mid)
        if spec is None:
            return True
        for dep in spec.depends_on:
            state = self.job.module_states.get(dep)
            if state is None:
                continue  # not part of the job: read from the cache
            if state.status not in ("completed", "cached"):
                return False
        for dep in spec.optional_depends_on:
            state = self.job.module_states.get(dep)
            if state is not None and state.status not in _TERMINAL:
                return False
        return True

    def _skip_blocked(self) -> None:
        """Mark ``skipped`` every pending module whose dependency ended badly."""
        changed = True
        while changed:
            changed = False
            for mid in self.job.modules:
                state = self.job.module_states[mid]
                if state.status != "pending":
                    continue
                spec = self.engine.registry.modules.get(mid)
                if spec is None:
                    state.status = "failed"
                    state.error_code = "plugin_error"
                    state.error_message = f"module {mid} is no longer provided by any plugin"
                    changed = True
                    continue
                for dep in spec.depends_on:
                    dep_state = self.job.module_states.get(dep)
                    bad = dep_state is not None and dep_state.status in (
                        "failed",
                        "skipped",
                        "cancelled",
                    )
                    missing = dep_state is None and dep not in self.outputs
                    if bad or missing:
                        state.status = "skipped"
                        state.error_code = "dependency_failed" if bad else "dependency_missing"
                        state.error_message = (
                            f"skipped because {dep} {dep_state.status}"
                            if dep_state is not None
                            else f"skipped because {dep} has no cached data"
                        )
                        state.finished_at = self._now()
                        changed = True
                        break

    async def _run_module(self, mid: str) -> None:
        job = self.job
        engine = self.engine
        spec = engine.registry.modules[mid]
        state = job.module_states[mid]
        now = self._now()

        if not job.force:
            entry = engine.store.get_cache(job.domain, mid)
            if entry is not None and is_hit(entry, now):
                output = _output_from_cache(entry, now)
                self.outputs[mid] = output
                state.status = "cached"
                state.started_at = state.finished_at = now
                state.duration_seconds = 0.0
                state.data_points = entry.data_points
                state.source = entry.source
                state.source_url = entry.source_url
                # Dependents may start before this commit: the writer commits in order, so any
                # record they write lands with or after this output. Waiting would put one fsync
                # per level of the module graph on a fully cached job's path.
                self._wake()
                await self._save_result(PutOutput.of(job.job_id, mid, output))
                engine.metrics.cache_hit(mid)
                return
            engine.metrics.cache_miss(mid)

        # The module's own task: its records (and its sources' errors) name it.
        _logging.bind(module_id=mid)
        state.status = "running"
        state.started_at = now
        await self._save_start()
        t0 = trio.current_time()
        result: ModuleResult | None = None
        ctx = _Context(self, spec)
        try:
            with trio.fail_after(engine.config.jobs.module_timeout_seconds):
                result = await spec.run(ctx)
            if not isinstance(result, ModuleResult):
                message = f"{mid}.run returned {type(result).__name__}, not ModuleResult"
                engine.registry.record_runtime_error(mid, message)
                raise ModuleError("plugin_error", message)
        except trio.TooSlowError:
            self._fail(state, "timeout", f"{mid} did not finish within the module timeout", None)
        except ModuleError as exc:
            if exc.code == "auth_failed" and exc.source in engine.sources:
                engine.sources[exc.source].refuse_key(exc.message)
            self._fail(state, exc.code, exc.message, exc.source)
        except Exception as exc:
            # A module's bug must not take its siblings down; it is reported, not raised.
            log.error(
                "job %s: module %s raised %s",
                job.job_id,
                mid,
                engine.redact(f"{type(exc).__name__}: {exc}"),
                extra={
                    "event": "module.crashed",
                    "job_id": job.job_id,
                    "domain": job.domain,
                    "module_id": mid,
                    "exc": engine.redact(traceback.format_exc()),
                },
            )
            # /healthz shows it to anyone: no source key may be in it.
            engine.registry.record_runtime_error(mid, engine.redact(f"{type(exc).__name__}: {exc}"))
            self._fail(state, "plugin_error", f"{type(exc).__name__}: {exc}", None)
        finished = self._now()
        state.finished_at = finished
        state.duration_seconds = round(trio.current_time() - t0, 3)
        served_by = result.source if result is not None else state.source
        engine.metrics.module_ran(
            mid, served_by or (spec.sources[0] if spec.sources else None), state.duration_seconds
        )
        if result is None:
            engine.metrics.module_failed(mid, state.error_code or "unknown")
            entry = engine.store.get_cache(job.domain, mid)
            if entry is not None and not entry.invalidated:
                await self._serve_stale(state, entry)
                return
            log.warning(
                "job %s: %s failed: %s %s",
                job.job_id,
                mid,
                state.error_code,
                state.error_message,
                extra={
                    "event": "module.failed",
                    "job_id": job.job_id,
                    "domain": job.domain,
                    "module_id": mid,
                    "code": state.error_code,
                    "source": state.source,
                },
            )
            await self._save()
            self._wake()
            return

        if ctx.simulated:
            _mark_simulated(result)
        source = result.source or (spec.sources[0] if spec.sources else None)
        source_url = result.source_url
        if source_url is None and result.citations:
            source_url = result.citations[0].url
        if source_url is None and source is not None and source in engine.registry.sources:
            source_url = engine.registry.sources[source].homepage or None
        output = ModuleOutput(
            data=result.data,
            data_points=result.data_points,
            fetched_at=finished,
            source=source,
            source_url=source_url,
            citations=list(result.citations),
        )
        entry = CacheEntry(
            domain=job.domain,
            module_id=mid,
            data=result.data,
            data_points=result.data_points,
            fetched_at=finished,
            ttl_seconds=engine.cache_policy.ttl[mid],
            stale_window_seconds=engine.cache_policy.stale_window[mid],
            job_id=job.job_id,
            source=source,
            source_url=source_url,
            citations=list(result.citations),
        )
        self.outputs[mid] = output
        state.status = "completed"
        state.data_points = result.data_points
        state.source = source
        state.source_url = source_url
        state.warnings = list(result.warnings)
        derived = tuple(sorted(engine.registry.downstream([mid])))
        ops: list[Op] = [PutOutput.of(job.job_id, mid, output), PutCache.of(entry)]
        if derived:
            ops.append(InvalidateCache(job.domain, derived))
        await self._save_result(*ops)
        self._wake()

    async def _serve_stale(self, state: ModuleState, entry: CacheEntry) -> None:
        """The refetch failed but older data exists: serve it, marked stale, with a warning.

        A user is better served by last month's traffic figure, labelled as such, than by none.
        An invalidated entry is not served: its inputs changed, so it would contradict them.
        """
        job = self.job
        when = iso(entry.fetched_at)
        warning = (
            f"refetch failed ({state.error_code}: {state.error_message}); serving the data "
            f"fetched at {when}"
        )
        log.warning(
            "job %s: %s %s",
            job.job_id,
            state.module_id,
            warning,
            extra={
                "event": "module.stale",
                "job_id": job.job_id,
                "domain": job.domain,
                "module_id": state.module_id,
                "code": state.error_code,
            },
        )
        output = _output_from_cache(entry, self._now())
        output.stale = True
        self.outputs[state.module_id] = output
        state.status = "cached"
        state.stale = True
        state.data_points = entry.data_points
        state.source = entry.source
        state.source_url = entry.source_url
        state.warnings = [warning]
        state.error_code = None
        state.error_message = None
        await self._save_result(PutOutput.of(job.job_id, state.module_id, output))
        self._wake()

    def _fail(self, state: ModuleState, code: str, message: str, source: str | None) -> None:
        state.status = "failed"
        state.error_code = code
        # An upstream may echo a key back in its error text; no key reaches the log or the API.
        state.error_message = self.engine.redact(message)
        spec = self.engine.registry.modules.get(state.module_id)
        state.source = source or (spec.sources[0] if spec and spec.sources else None)

    def _wake(self) -> None:
        self._progress.set()

    async def _finish(self) -> None:
        job = self.job
        states = job.module_states.values()
        failed = any(s.status in ("failed", "skipped") for s in states)
        job.status = "failed" if failed else "completed"
        job.completed_at = self._now()
        # Free the domain before the terminal record becomes visible, so a client that sees the
        # job finished can start the next one at once.
        self.engine.release_domain(job.job_id, job.domain)
        await self._save()
        bad = sorted(m for m, s in job.module_states.items() if s.status in ("failed", "skipped"))
        log.info(
            "job %s %s (%s)",
            job.job_id,
            job.status,
            job.domain,
            extra=_job_event(
                job,
                duration_seconds=_elapsed(job),
                failed_modules=bad or None,
            ),
        )

    async def _checkpoint(self) -> None:
        """The daemon is stopping: write the job back as queued, for the next start to resume.

        Completed modules keep their outputs (already on disk); modules that were running lost
        their work and go back to pending, to start over.
        """
        job = self.job
        for state in job.module_states.values():
            if state.status == "running":
                state.status = "pending"
                state.started_at = None
        job.status = "queued"
        # Shielded: the shutdown's cancel brought us here; the writer stops only after every job.
        with trio.CancelScope(shield=True):
            await self._save()
        log.info(
            "job %s checkpointed as queued for the next start (%s)",
            job.job_id,
            job.domain,
            extra=_job_event(job, event="job.checkpointed"),
        )

    async def _finish_cancelled(self) -> None:
        job = self.job
        mark_cancelled(job, self._now())
        self.engine.release_domain(job.job_id, job.domain)
        # Shielded: the cancel that brought us here must not stop us recording it.
        with trio.CancelScope(shield=True):
            await self._save()
        log.info("job %s cancelled (%s)", job.job_id, job.domain, extra=_job_event(job))


def _job_event(job: Job, *, event: str | None = None, **fields: Any) -> dict[str, Any]:
    """The ``extra=`` of a job transition's record: ``job.<status>``, the job id and domain."""
    return {
        "event": event or f"job.{job.status}",
        "job_id": job.job_id,
        "domain": job.domain,
        **fields,
    }


def _elapsed(job: Job) -> float | None:
    if job.started_at is None or job.completed_at is None:
        return None
    return round(job.completed_at - job.started_at, 3)


def _mark_simulated(result: ModuleResult) -> None:
    """Label a result built from sandbox answers, so nobody mistakes it for real data."""
    result.citations = [
        c
        if c.title.startswith(SANDBOX_LABEL)
        else Citation(url=c.url, title=SANDBOX_LABEL + c.title)
        for c in result.citations
    ]
    result.warnings = [*result.warnings, "simulated data from the enrichd sandbox"]


def _output_from_cache(entry: CacheEntry, now: float) -> ModuleOutput:
    return ModuleOutput(
        data=entry.data,
        data_points=entry.data_points,
        fetched_at=entry.fetched_at,
        cached=True,
        stale=now - entry.fetched_at >= entry.ttl_seconds,
        source=entry.source,
        source_url=entry.source_url,
        citations=list(entry.citations),
    )
