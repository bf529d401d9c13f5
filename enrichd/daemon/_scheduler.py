"""The Scheduler: admits queued jobs by priority, FIFO within a priority, up to a concurrency cap.

Batches add a second cap: at most ``concurrency`` of one batch's jobs run at once. A batch's jobs
beyond its cap wait in the batch's own line and enter the main queue only when a slot of their
batch frees, so they never block other work by sitting at the head of the queue.
"""

from __future__ import annotations

import heapq
import logging
from collections import deque
from collections.abc import Awaitable, Callable

import trio

from ._records import PRIORITY_RANK

log = logging.getLogger("enrichd.scheduler")

_Entry = tuple[int, int, str]  # (priority rank, seq, job id)


class Scheduler:
    """Runs ``run_job(job_id, cancel_scope)`` for queued jobs as slots free up."""

    def __init__(
        self, max_concurrent: int, run_job: Callable[[str, trio.CancelScope], Awaitable[None]]
    ) -> None:
        self.max_concurrent = max_concurrent
        self._run_job = run_job
        self._heap: list[_Entry] = []
        self._queued: dict[str, str | None] = {}  # job id -> batch id, for jobs not yet started
        self._queued_rank: dict[str, int] = {}
        self._rank_counts = [0, 0, 0]
        self._in_heap: set[str] = set()
        self._batch_in_heap: dict[str, int] = {}
        self._running: dict[str, trio.CancelScope] = {}
        self._running_batch: dict[str, str | None] = {}
        self._batch_limit: dict[str, int] = {}
        self._batch_running: dict[str, int] = {}
        self._batch_waiting: dict[str, deque[_Entry]] = {}
        self._done_events: dict[str, trio.Event] = {}
        self._wakeup = trio.Event()
        self.admitted = 0
        self.last_progress: float | None = None
        #: Bumped by every pass of run()'s loop: the systemd watchdog's sign of progress.
        self.heartbeat = 0
        self._idle = False
        # Set by stop(): no job is admitted any more, and the jobs it interrupted are recorded so
        # their supervisors write them back as queued rather than cancelled.
        self._stopping = False
        self._stopped: set[str] = set()

    # -- state, read synchronously by the engine ------------------------------------------------

    @property
    def queue_depth(self) -> int:
        """Jobs waiting to start."""
        return len(self._queued)

    @property
    def running_count(self) -> int:
        """Jobs running now."""
        return len(self._running)

    def is_queued(self, job_id: str) -> bool:
        """Whether the job waits to start."""
        return job_id in self._queued

    def is_running(self, job_id: str) -> bool:
        """Whether the job runs now."""
        return job_id in self._running

    def live_since(self, heartbeat: int) -> bool:
        """Whether the admission loop has run since it showed ``heartbeat``, or waits healthily.

        Waiting is healthy unless a job could start and nothing will wake the loop to start it
        (a lost wakeup); a loop that has ended is not live.
        """
        if self.heartbeat != heartbeat:
            return True
        can_admit = (
            not self._stopping and len(self._running) < self.max_concurrent and bool(self._in_heap)
        )
        return self._idle and (self._wakeup.is_set() or not can_admit)

    def set_max_concurrent(self, limit: int) -> None:
        """Run at most ``limit`` jobs at once from now on (a configuration reload).

        Running jobs are never stopped by a lower limit; a higher one admits queued jobs now.
        """
        self.max_concurrent = limit
        # Wake the admission loop: with a higher limit, queued jobs can start now (and a loop
        # left asleep while it could admit would read as hung to the systemd watchdog).
        self._wakeup.set()

    def queued_ahead(self, priority: str) -> int:
        """How many waiting jobs would start before a new job of ``priority``."""
        return sum(self._rank_counts[: PRIORITY_RANK[priority] + 1])

    # -- commands -------------------------------------------------------------------------------

    def set_batch_limit(self, batch_id: str, concurrency: int) -> None:
        """Cap how many of a batch's jobs run at once."""
        self._batch_limit[batch_id] = concurrency
        self._batch_running.setdefault(batch_id, 0)

    def enqueue(self, job_id: str, priority: str, seq: int, batch_id: str | None = None) -> None:
        """Queue a job whose record is already on disk."""
        rank = PRIORITY_RANK[priority]
        entry = (rank, seq, job_id)
        self._queued[job_id] = batch_id
        self._queued_rank[job_id] = rank
        self._rank_counts[rank] += 1
        if batch_id is not None and batch_id in self._batch_limit:
            waiting = self._batch_waiting.setdefault(batch_id, deque())
            if waiting or not self._batch_has_room(batch_id):
                waiting.append(entry)
                return
        self._push(entry, batch_id)

    def _push(self, entry: _Entry, batch_id: str | None) -> None:
        heapq.heappush(self._heap, entry)
        self._in_heap.add(entry[2])
        if batch_id is not None:
            self._batch_in_heap[batch_id] = self._batch_in_heap.get(batch_id, 0) + 1
        self._wakeup.set()

    def _batch_has_room(self, batch_id: str) -> bool:
        used = self._batch_running.get(batch_id, 0) + self._batch_in_heap.get(batch_id, 0)
        return used < self._batch_limit[batch_id]

    def _unqueue(self, job_id: str) -> str | None:
        """Forget a waiting job's bookkeeping; returns its batch id."""
        batch_id = self._queued.pop(job_id)
        self._rank_counts[self._queued_rank.pop(job_id)] -= 1
        if job_id in self._in_heap:
            self._in_heap.discard(job_id)
            if batch_id is not None:
                self._batch_in_heap[batch_id] -= 1
        return batch_id

    def cancel_queued(self, job_id: str) -> bool:
        """Withdraw a job that has not started; True if it was waiting."""
        if job_id not in self._queued:
            return False
        batch_id = self._unqueue(job_id)
        if batch_id is not None and batch_id in self._batch_waiting:
            waiting = self._batch_waiting[batch_id]
            for entry in list(waiting):
                if entry[2] == job_id:
                    waiting.remove(entry)
        # Entries left in the heap are skipped lazily when popped.
        self._finish_event(job_id)
        self._release_batch_slot(batch_id, started=False)
        return True

    def cancel_running(self, job_id: str, reason: str = "cancelled by user") -> trio.Event | None:
        """Cancel a running job; returns an event set once its supervisor has finished."""
        scope = self._running.get(job_id)
        if scope is None:
            return None
        scope.cancel(reason=reason)
        return self._done_events.get(job_id)

    async def stop(self) -> int:
        """Admit no more jobs and interrupt the running ones for a shutdown.

        Returns once every supervisor has finished, with the number of jobs this call
        interrupted. Jobs a user had already cancelled finish as cancelled; queued jobs stay
        queued.
        """
        self._stopping = True
        waiting: list[trio.Event] = []
        interrupted = 0
        for job_id, scope in list(self._running.items()):
            if not scope.cancel_called:
                self._stopped.add(job_id)
                scope.cancel(reason="daemon stopping")
                interrupted += 1
            event = self._done_events.get(job_id)
            if event is not None:
                waiting.append(event)
        for event in waiting:
            await event.wait()
        return interrupted

    def stopped_for_shutdown(self, job_id: str) -> bool:
        """Whether :meth:`stop` interrupted this job (rather than a user or a fault)."""
        return job_id in self._stopped

    def done_event(self, job_id: str) -> trio.Event | None:
        """An event set when the job leaves the scheduler (finished or withdrawn); None for a
        job the scheduler does not hold."""
        if job_id not in self._queued and job_id not in self._running:
            return self._done_events.get(job_id)
        return self._done_events.setdefault(job_id, trio.Event())

    def _finish_event(self, job_id: str) -> None:
        event = self._done_events.pop(job_id, None)
        if event is not None:
            event.set()

    def _release_batch_slot(self, batch_id: str | None, *, started: bool) -> None:
        if batch_id is None or batch_id not in self._batch_limit:
            return
        if started:
            self._batch_running[batch_id] -= 1
        waiting = self._batch_waiting.get(batch_id)
        while waiting and self._batch_has_room(batch_id):
            self._push(waiting.popleft(), batch_id)
        if (
            not waiting
            and self._batch_running[batch_id] == 0
            and not self._batch_in_heap.get(batch_id, 0)
        ):
            # The batch has nothing left here: forget it so memory does not grow with batches.
            self._batch_limit.pop(batch_id, None)
            self._batch_running.pop(batch_id, None)
            self._batch_waiting.pop(batch_id, None)
            self._batch_in_heap.pop(batch_id, None)

    # -- the actor ------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Admit jobs until cancelled; started with ``nursery.start``."""
        async with trio.open_nursery() as nursery:
            task_status.started()
            while True:
                while (
                    not self._stopping and len(self._running) < self.max_concurrent and self._heap
                ):
                    _, _, job_id = heapq.heappop(self._heap)
                    if job_id not in self._in_heap:
                        continue  # withdrawn while waiting
                    batch_id = self._unqueue(job_id)
                    if batch_id is not None and batch_id in self._batch_running:
                        self._batch_running[batch_id] += 1
                    scope = trio.CancelScope()
                    self._running[job_id] = scope
                    # Made when a job starts, not when it is queued: 100,000 queued jobs would
                    # otherwise hold 100,000 events nobody waits on (~30 MB).
                    self._done_events.setdefault(job_id, trio.Event())
                    self._running_batch[job_id] = batch_id
                    self.admitted += 1
                    nursery.start_soon(self._supervise, job_id, scope, name=f"job {job_id}")
                self.last_progress = trio.current_time()
                self.heartbeat += 1
                self._wakeup = trio.Event()
                self._idle = True
                try:
                    await self._wakeup.wait()
                finally:
                    self._idle = False

    async def _supervise(self, job_id: str, scope: trio.CancelScope) -> None:
        try:
            await self._run_job(job_id, scope)
        except Exception:
            # The supervisor records its own failures; this is a last line so one job's bug
            # cannot take the scheduler (and every other job) down with it.
            log.exception(
                "job %s: supervisor crashed",
                job_id,
                extra={"event": "job.crashed", "job_id": job_id},
            )
        finally:
            self._running.pop(job_id, None)
            batch_id = self._running_batch.pop(job_id, None)
            self._finish_event(job_id)
            self._release_batch_slot(batch_id, started=True)
            self._wakeup.set()
