"""The StoreWriter actor: the only LMDB writer.

Everyone sends write operations here; the writer gathers whatever is waiting into one batch and
commits it as one transaction in a worker thread, so a thousand jobs' module transitions cost a
handful of fsyncs instead of a thousand. A caller's ``await write(...)`` returns once its
operations are durable.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import lmdb
import trio

from ._store import Op, Store, StoreError

log = logging.getLogger("enrichd.store")

#: Requests gathered into one transaction at most; bounds the work lost to one failed commit.
MAX_BATCH = 512


class _Request:
    __slots__ = ("done", "error", "ops")

    def __init__(self, ops: Sequence[Op]) -> None:
        self.ops = ops
        self.done = trio.Event()
        self.error: BaseException | None = None


class StoreWriter:
    """Batches writes from every task into single LMDB transactions."""

    def __init__(self, store: Store, *, queue_size: int = 4096, in_thread: bool = True) -> None:
        self.store = store
        # Tests on trio's MockClock commit on the Trio thread: while a worker thread runs, every
        # task looks idle to the autojumping clock, which would leap to the next far deadline.
        self._in_thread = in_thread
        self._send, self._receive = trio.open_memory_channel[_Request](queue_size)
        self.commits = 0
        self.last_commit_time: float | None = None

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
            raise StoreError(f"write failed: {request.error}") from request.error

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Commit batches until the send side closes; start with ``nursery.start``."""
        task_status.started()
        async with self._receive:
            async for first in self._receive:
                batch = [first]
                while len(batch) < MAX_BATCH:
                    try:
                        batch.append(self._receive.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                await self._commit(batch)

    def close(self) -> None:
        """Stop accepting writes; ``run`` returns once what is queued is committed."""
        self._send.close()

    async def _commit(self, batch: list[_Request]) -> None:
        try:
            await self._commit_all(batch)
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
            else:
                # One bad request must not fail its neighbours: retry them one at a time.
                for request in batch:
                    try:
                        await self._commit_all([request])
                    except Exception as single_exc:
                        request.error = single_exc
            log.error("store write failed: %s", exc)
        for request in batch:
            request.done.set()
        self.commits += 1
        self.last_commit_time = trio.current_time()

    async def _commit_all(self, batch: list[_Request]) -> None:
        store = self.store

        def commit() -> None:
            with store.env.begin(write=True) as txn:
                for request in batch:
                    for op in request.ops:
                        store.apply(txn, op)

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
                # open (reads never span an await) and the writer thread is idle.
                old = store.map_size
                store.grow()
                log.warning(
                    "store map full at %d MiB; grown to %d MiB", old >> 20, store.map_size >> 20
                )
