"""The StoreWriter actor: the only LMDB writer.

Everyone sends write operations here; the writer gathers whatever is waiting into one batch and
commits it as one transaction in a worker thread, so a thousand jobs' module transitions cost a
handful of fsyncs instead of a thousand. A caller's ``await write(...)`` returns once its
operations are durable.

When the data directory cannot be written (disk full, read-only, I/O error) the writer fails the
waiters of the batch that hit it with a :class:`~enrichd.daemon._store.StorageError`, records it
in ``last_error`` and keeps going: every later batch is tried as usual, and while the fault lasts
a small probe write is tried every ``retry_seconds`` so the fault clears without traffic. Job
records that could not be written are held (:meth:`StoreWriter.hold`) and written as soon as a
write succeeds again.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence

import lmdb
import trio

from ._store import Op, PutJob, StorageError, Store, StoreError, WriteProbe, storage_error

log = logging.getLogger("enrichd.store")

#: Requests gathered into one transaction at most; bounds the work lost to one failed commit.
MAX_BATCH = 512
#: Seconds between write attempts while the data directory cannot be written.
RETRY_SECONDS = 5.0


class _Request:
    __slots__ = ("done", "error", "ops")

    def __init__(self, ops: Sequence[Op]) -> None:
        self.ops = ops
        self.done = trio.Event()
        self.error: BaseException | None = None


class StoreWriter:
    """Batches writes from every task into single LMDB transactions."""

    def __init__(
        self,
        store: Store,
        *,
        queue_size: int = 4096,
        in_thread: bool = True,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self.store = store
        # Tests on trio's MockClock commit on the Trio thread: while a worker thread runs, every
        # task looks idle to the autojumping clock, which would leap to the next far deadline.
        self._in_thread = in_thread
        self._send, self._receive = trio.open_memory_channel[_Request](queue_size)
        self.commits = 0
        self.last_commit_time: float | None = None
        self.retry_seconds = retry_seconds
        #: Why the data directory cannot be written, as of the last failed commit; None again
        #: once a commit succeeds. The engine refuses new jobs while it is set.
        self.last_error: StorageError | None = None
        #: Bumped by every pass of run()'s loop: the systemd watchdog's sign of progress.
        self.heartbeat = 0
        # True while run() waits for work: healthy however long it lasts.
        self._idle = False

    def live_since(self, heartbeat: int) -> bool:
        """Whether the writer has made progress since it showed ``heartbeat``, or waits idle.

        False while one commit has hung (a stalled disk) or once ``run`` has ended.
        """
        return self._idle or self.heartbeat != heartbeat

    async def write(self, *ops: Op) -> None:
        """Apply ``ops`` atomically; returns once they are committed, raises StoreError if not."""
        if not ops:
            return
        request = _Request(ops)
        await self._send.send(request)
        # A caller cancelled here may still see its write committed: queued writes are not
        # withdrawn, so callers must treat cancellation as "maybe written".
        await request.done.wait()
        if request.error is not None:
            failure = storage_error(request.error, self.store.path)
            if failure is not None:
                raise failure from request.error
            raise StoreError(f"write failed: {request.error}") from request.error

    def hold(self, op: PutJob) -> None:
        """Keep a job record that could not be written because storage failed.

        Reads see it at once (the store prefers it to LMDB's older copy); the writer writes it as
        soon as a write succeeds, then lets it go. A newer record of the same job replaces it.
        """
        self.store.unsaved_jobs[op.job_id] = op
        # Wake the writer: storage may have recovered before this record was handed over. A full
        # queue means a commit is coming anyway; a closed one, that the daemon is stopping.
        with contextlib.suppress(
            trio.WouldBlock, trio.ClosedResourceError, trio.BrokenResourceError
        ):
            self._send.send_nowait(_Request(()))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Commit batches until the send side closes; start with ``nursery.start``."""
        task_status.started()
        async with self._receive:
            while True:
                self.heartbeat += 1
                try:
                    self._idle = True
                    first = await self._next_request()
                except trio.EndOfChannel:
                    break
                finally:
                    self._idle = False
                if first is None:
                    await self._replay(probe=True)
                    continue
                batch = [first]
                while len(batch) < MAX_BATCH:
                    try:
                        batch.append(self._receive.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                await self._commit(batch)
                if self.last_error is None and self.store.unsaved_jobs:
                    await self._replay()
        if self.store.unsaved_jobs:
            await self._replay()
        if self.store.unsaved_jobs:
            log.error(
                "stopping with %d job records unwritten (%s); those jobs restart from their last "
                "written state at the next start",
                len(self.store.unsaved_jobs),
                self.last_error.message if self.last_error else "storage failing",
            )

    async def _next_request(self) -> _Request | None:
        """The next request; None if storage is failing and none came within ``retry_seconds``."""
        if self.last_error is None and not self.store.unsaved_jobs:
            return await self._receive.receive()
        with trio.move_on_after(self.retry_seconds):
            return await self._receive.receive()
        return None

    def close(self) -> None:
        """Stop accepting writes; ``run`` returns once what is queued is committed."""
        self._send.close()

    async def _commit(self, batch: list[_Request]) -> None:
        if any(request.ops for request in batch):
            try:
                await self._commit_all(batch)
            except Exception as exc:
                await self._after_failure(exc, batch)
            else:
                self._recovered()
            self.commits += 1
            self.last_commit_time = trio.current_time()
        for request in batch:
            request.done.set()

    async def _after_failure(self, exc: Exception, batch: list[_Request]) -> None:
        if self._note_failure(exc):
            # The data directory cannot be written: retrying each request alone would only fail
            # again, an fsync each. This batch's waiters fail; later batches are tried as usual.
            for request in batch:
                request.error = exc
            return
        log.error("store write failed: %s", exc)
        if len(batch) == 1:
            batch[0].error = exc
            return
        # One bad request must not fail its neighbours: retry them one at a time.
        for request in batch:
            try:
                await self._commit_all([request])
            except Exception as single_exc:
                request.error = single_exc
                self._note_failure(single_exc)
            else:
                self._recovered()

    def _note_failure(self, exc: BaseException) -> bool:
        """Record ``exc`` in ``last_error`` if it is a storage fault; True if it is one."""
        failure = storage_error(exc, self.store.path)
        if failure is None:
            return False
        if self.last_error is None or self.last_error.reason != failure.reason:
            log.error(
                "%s (%s): failing the affected writes, refusing new jobs, retrying every %gs",
                failure.message,
                exc,
                self.retry_seconds,
            )
        self.last_error = failure
        return True

    def _recovered(self) -> None:
        if self.last_error is not None:
            log.warning("the data directory %r can be written again", str(self.store.path))
            self.last_error = None

    async def _replay(self, *, probe: bool = False) -> None:
        """Write the held job records (with none held and ``probe``, a probe write); a success
        clears ``last_error``."""
        held = list(self.store.unsaved_jobs.values())
        ops: list[Op] = list(held)
        if not ops:
            if not probe:
                return
            ops = [WriteProbe(time.time())]
        try:
            await self._commit_all([_Request(ops)])
        except Exception as exc:
            if self._note_failure(exc):
                return
            # Not the disk: the records themselves cannot be written, and retrying them forever
            # would keep the writer from ever recovering. Their jobs resume at the next start.
            log.error("dropping %d job records that cannot be written: %s", len(held), exc)
        else:
            self._recovered()
            if held:
                log.info("wrote %d job records held while storage was failing", len(held))
        for op in held:
            if self.store.unsaved_jobs.get(op.job_id) is op:
                del self.store.unsaved_jobs[op.job_id]

    async def _commit_all(self, batch: list[_Request]) -> None:
        store = self.store

        ops = _latest_job_records(batch)

        def commit() -> None:
            with store.env.begin(write=True) as txn:
                for op in ops:
                    store.apply(txn, op)

        resized = False
        while True:
            try:
                # Shielded: abandoning a transaction mid-thread is impossible anyway, and the
                # callers are waiting for its outcome.
                with trio.CancelScope(shield=True):
                    if self._in_thread:
                        await trio.to_thread.run_sync(commit)
                    else:
                        commit()
                        await trio.lowlevel.checkpoint()
                return
            except lmdb.MapFullError:
                # Grown here, on the Trio thread, between transactions: no read transaction is
                # open (reads never span an await) and the writer thread is idle. A map that
                # cannot grow raises StorageError, failing this batch like a full disk.
                old = store.map_size
                store.grow()
                log.warning(
                    "store map full at %d MiB; grown to %d MiB", old >> 20, store.map_size >> 20
                )
            except lmdb.MapResizedError:
                # Another process (a CLI import) grew the map: adopt its size, at the same safe
                # point as growing. Once: a second failure is reported like any other.
                if resized:
                    raise
                resized = True
                store.adopt_map_size()


def _latest_job_records(batch: list[_Request]) -> list[Op]:
    """The batch's operations, in order, less each job record that a later one in the batch
    replaces.

    They are all committed in one transaction, so only a job's last record can be seen; writing
    the earlier ones (eight index reads and writes each) is work for nothing. A busy daemon often
    has several of a job's module transitions in one batch.
    """
    ops = [op for request in batch for op in request.ops]
    last: dict[str, int] = {}
    for i, op in enumerate(ops):
        if isinstance(op, PutJob):
            last[op.job_id] = i
    if len(last) == sum(isinstance(op, PutJob) for op in ops):
        return ops
    return [op for i, op in enumerate(ops) if not isinstance(op, PutJob) or last[op.job_id] == i]
