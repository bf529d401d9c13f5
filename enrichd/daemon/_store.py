"""The LMDB store: named databases, msgpack-encoded records, reads, and write operations.

Reads run straight against LMDB on the caller's thread in short read transactions (never held
across an ``await``). Writes are expressed as :class:`Op` values and applied by the
:class:`~enrichd.daemon._writer.StoreWriter`, the only writer, in one transaction per batch. Index
maintenance happens inside :meth:`Store.apply`, so an index can never disagree with its record.
"""

from __future__ import annotations

import errno
import itertools
import os
import shutil
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

import lmdb
import msgspec

from ..plugins._types import CaseStudy
from ._errors import Unavailable
from ._records import (
    ACTIVE_STATUSES,
    Batch,
    CacheEntry,
    CacheHead,
    IdempotencyRecord,
    Job,
    JobHead,
    ModuleOutput,
    OutputHead,
    TokenRecord,
)

#: Bump when the on-disk layout changes incompatibly; a store with another version is refused.
SCHEMA_VERSION = 1

_DB_NAMES = (
    "meta",
    "jobs",
    "jobs_by_time",
    "jobs_by_domain",
    "jobs_by_status",
    "active",
    "outputs",
    "cache",
    "batches",
    "idempotency",
    "tokens",
    "case_studies",
)

T = TypeVar("T")

#: ``meta`` key holding the highest job sequence number written so far (decimal ASCII).
_MAX_SEQ_KEY = b"max_seq"
#: ``meta`` key prefix of the number of jobs in each status (8-byte big-endian), kept in the
#: same transaction as the status index so counts never need a walk of the index.
_COUNT_PREFIX = b"jobs_with_status\0"
#: ``meta`` key present once the counts exist (stores written before them get them at open).
_COUNTS_MARKER = b"status_counts"


class StoreError(Exception):
    """The store cannot be opened or written; the message says what to do."""


class StorageError(StoreError, Unavailable):
    """The data directory cannot be written: disk full, read-only, or an I/O error.

    An outage, not a bug: the writes that hit it fail (their job ends ``failed`` with
    ``storage_error``), new jobs are refused with 503 ``storage_unavailable``, reads go on, and the
    writer tries again until a write succeeds. Being an :class:`Unavailable`, it reaches API
    clients as that 503 wherever it escapes a route.
    """

    def __init__(self, path: Path, reason: str, detail: str, cause: str = "") -> None:
        message = f"cannot write to the data directory {str(path)!r}: {detail}"
        details = {"reason": reason, "path": str(path), "cause": cause or None}
        Unavailable.__init__(self, "storage_unavailable", message, details=details)
        self.path = path
        #: ``disk_full``, ``read_only``, ``map_full`` or ``io_error``.
        self.reason = reason
        self.detail = detail
        self.cause = cause


#: errno values that mean "no space" and "cannot write here" (LMDB passes them through).
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
_READ_ONLY = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


def storage_error(exc: BaseException, path: Path) -> StorageError | None:
    """``exc`` as a new :class:`StorageError` if it means the data directory cannot be written.

    None for a failure of one write's own content (a key over LMDB's size limit, say): that fails
    only the write that carried it, and says nothing about the disk.
    """
    if isinstance(exc, StorageError):
        return StorageError(exc.path, exc.reason, exc.detail, exc.cause)
    code = exc.errno if isinstance(exc, OSError) else getattr(exc, "code", None)
    if isinstance(exc, lmdb.DiskError) or code in _DISK_FULL:
        reason, detail = "disk_full", "disk full"
    elif isinstance(exc, lmdb.ReadonlyError) or code in _READ_ONLY:
        reason, detail = "read_only", "read-only"
    elif isinstance(exc, lmdb.PanicError):
        # LMDB refuses every transaction after a failed meta-page write until it is reopened.
        reason, detail = "io_error", "fatal LMDB error; restart enrichd once the disk is fixed"
    elif isinstance(exc, OSError) or code == errno.EIO:
        reason, detail = "io_error", "I/O error"
    else:
        return None
    return StorageError(path, reason, detail, str(exc))


class _Codec(Generic[T]):
    def __init__(self, typ: type[T]) -> None:
        self.decoder = msgspec.msgpack.Decoder(typ)

    def decode(self, raw: bytes | memoryview | None) -> T:
        if raw is None:
            # Indexes and records are written in one transaction, so this means corruption.
            raise StoreError("an index points at a missing record: the store is damaged")
        return self.decoder.decode(raw)


_encoder = msgspec.msgpack.Encoder()
_job_codec = _Codec(Job)
_head_codec = _Codec(JobHead)


class _StatusOnly(msgspec.Struct):
    """A stored job decoded for its status alone (the writer's index upkeep)."""

    status: str


_status_codec = _Codec(_StatusOnly)


class QueuedJob(msgspec.Struct, kw_only=True, gc=False):
    """What re-queueing a stored job at start-up needs of it, and nothing more.

    Decoding 100,000 whole jobs (each with its module states) took 1.2 GB and 6.5 s, half of
    it garbage collection; these hold only strings and numbers, so ``gc=False`` is safe.
    """

    job_id: str
    domain: str
    priority: str
    seq: int
    batch_id: str | None = None


_queued_codec = _Codec(QueuedJob)
_cache_codec = _Codec(CacheEntry)
_cache_head_codec = _Codec(CacheHead)
_output_codec = _Codec(ModuleOutput)
_output_head_codec = _Codec(OutputHead)
_batch_codec = _Codec(Batch)
_idem_codec = _Codec(IdempotencyRecord)
_token_codec = _Codec(TokenRecord)
_case_study_codec = _Codec(CaseStudy)


def _ts_key(created_at: float, seq: int) -> bytes:
    # Microseconds then the sequence number, big-endian, so byte order is time order.
    return struct.pack(">QQ", int(created_at * 1_000_000), seq)


def _sep(*parts: str) -> bytes:
    return b"\0".join(p.encode() for p in parts)


# ---------------------------------------------------------------------------------------------
# Write operations: plain values, applied in the writer thread.


class PutJob(msgspec.Struct, frozen=True):
    """Insert or replace a job record, keeping every job index in step.

    Built with :meth:`of`, which encodes the job at once: the writer thread must never read a
    record that the Trio thread may still be changing.
    """

    job_id: str
    domain: str
    status: str
    created_at: float
    seq: int
    raw: bytes

    @classmethod
    def of(cls, job: Job) -> PutJob:
        """Snapshot ``job`` as a write operation."""
        return cls(
            job.job_id, job.domain, job.status, job.created_at, job.seq, _encoder.encode(job)
        )


class PutOutput(msgspec.Struct, frozen=True):
    """Record a module's data for one job."""

    job_id: str
    module_id: str
    raw: bytes

    @classmethod
    def of(cls, job_id: str, module_id: str, output: ModuleOutput) -> PutOutput:
        """Snapshot ``output`` as a write operation."""
        return cls(job_id, module_id, _encoder.encode(output))


class PutCache(msgspec.Struct, frozen=True):
    """Insert or replace the cache entry of (domain, module)."""

    domain: str
    module_id: str
    raw: bytes

    @classmethod
    def of(cls, entry: CacheEntry) -> PutCache:
        """Snapshot ``entry`` as a write operation."""
        return cls(entry.domain, entry.module_id, _encoder.encode(entry))


class InvalidateCache(msgspec.Struct, frozen=True):
    """Mark the cache entries of derived modules stale because an input changed."""

    domain: str
    module_ids: tuple[str, ...]


class PutBatch(msgspec.Struct, frozen=True):
    """Insert or replace a batch record."""

    batch: Batch


class PutIdempotency(msgspec.Struct, frozen=True):
    """Remember the first answer for an idempotency key."""

    key: str
    record: IdempotencyRecord


class PutToken(msgspec.Struct, frozen=True):
    """Store an API token's hash."""

    sha256: str
    record: TokenRecord


class DeleteToken(msgspec.Struct, frozen=True):
    """Forget an API token."""

    sha256: str


class PutCaseStudy(msgspec.Struct, frozen=True):
    """Insert or replace a case study (by its id). ``CaseStudy`` is frozen: safe to hold."""

    record: CaseStudy


class DeleteCaseStudy(msgspec.Struct, frozen=True):
    """Forget a case study; deleting an unknown id does nothing."""

    id: str


class DeleteAllCaseStudies(msgspec.Struct, frozen=True):
    """Forget every case study (``import --replace``), inside the writer's transaction so the
    import that follows in the same transaction replaces the whole database atomically."""


class WriteProbe(msgspec.Struct, frozen=True):
    """A tiny real write (a timestamp in ``meta``): tells whether the data directory can be
    written again. An empty transaction would not do: LMDB commits it without writing."""

    at: float


Op = (
    PutJob
    | PutOutput
    | PutCache
    | InvalidateCache
    | PutBatch
    | PutIdempotency
    | PutToken
    | DeleteToken
    | PutCaseStudy
    | DeleteCaseStudy
    | DeleteAllCaseStudies
    | WriteProbe
)


class Store:
    """An open LMDB environment with the daemon's named databases."""

    def __init__(self, path: str | os.PathLike[str], *, map_size: int = 256 * 1024 * 1024) -> None:
        self.path = Path(path)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self.env = lmdb.open(
                str(self.path / "enrichd.lmdb"),
                subdir=True,
                map_size=map_size,
                max_dbs=len(_DB_NAMES) + 4,
                # Durable commits: a job answered 202 must survive a power cut.
                sync=True,
                metasync=True,
                readahead=False,
            )
        except (OSError, lmdb.Error) as exc:
            raise StoreError(f"cannot open the store at {str(self.path)!r}: {exc}") from None
        self.dbs = {name: self.env.open_db(name.encode()) for name in _DB_NAMES}
        #: Job records the daemon could not write (storage failing), by job id. Reads prefer them
        #: to LMDB's older copy; the writer writes them once a write succeeds, then drops them.
        self.unsaved_jobs: dict[str, PutJob] = {}
        self._check_schema()

    def _check_schema(self) -> None:
        with self.env.begin(write=True, db=self.dbs["meta"]) as txn:
            raw = txn.get(b"schema_version")
            if raw is None:
                txn.put(b"schema_version", str(SCHEMA_VERSION).encode())
            if (raw is None or bytes(raw) == str(SCHEMA_VERSION).encode()) and txn.get(
                _COUNTS_MARKER
            ) is None:
                self._count_statuses(txn)
            if raw is None:
                return
        found = bytes(raw).decode(errors="replace")
        if found != str(SCHEMA_VERSION):
            self.env.close()
            raise StoreError(
                f"the store at {str(self.path)!r} has schema version {found!r}, this enrichd "
                f"needs {SCHEMA_VERSION}: restore a backup made by a matching version"
            )

    def _count_statuses(self, txn: lmdb.Transaction) -> None:
        """Write the per-status job counts from one walk of the status index.

        Runs once, at the first open of a store written before the counts existed.
        """
        counts: dict[bytes, int] = {}
        for key, _ in txn.cursor(db=self.dbs["jobs_by_status"]):
            status = bytes(key).partition(b"\0")[0]
            counts[status] = counts.get(status, 0) + 1
        for status, count in counts.items():
            txn.put(_COUNT_PREFIX + status, count.to_bytes(8, "big"), db=self.dbs["meta"])
        txn.put(_COUNTS_MARKER, b"1", db=self.dbs["meta"])

    def _add_to_count(self, txn: lmdb.Transaction, status: str, delta: int) -> None:
        key = _COUNT_PREFIX + status.encode()
        raw = txn.get(key, db=self.dbs["meta"])
        count = int.from_bytes(raw, "big") if raw is not None else 0
        txn.put(key, max(0, count + delta).to_bytes(8, "big"), db=self.dbs["meta"])

    def close(self) -> None:
        """Close the environment."""
        self.env.close()

    @property
    def map_size(self) -> int:
        """The current LMDB map size in bytes."""
        return int(self.env.info()["map_size"])

    def adopt_map_size(self) -> None:
        """Take the map size another process grew the file to (after ``MapResizedError``).

        Only call with no transaction open in this process, as for :meth:`grow`.
        """
        self.env.set_mapsize(0)

    def grow(self) -> None:
        """Double the map size. Only call with no transaction open in this process.

        Raises :class:`StorageError` if the map cannot grow (no address space or memory left).
        """
        old = self.map_size
        try:
            self.env.set_mapsize(old * 2)
        except (lmdb.Error, OSError, MemoryError) as exc:
            raise StorageError(
                self.path,
                "map_full",
                f"the map is full at {old >> 20} MiB and cannot grow",
                str(exc),
            ) from exc

    # -- writes ---------------------------------------------------------------------------------

    def apply(self, txn: lmdb.Transaction, op: Op) -> None:
        """Apply one write operation inside the writer's transaction."""
        d = self.dbs
        if isinstance(op, PutJob):
            key = op.job_id.encode()
            old_raw = txn.get(key, db=d["jobs"])
            ts = _ts_key(op.created_at, op.seq)
            if old_raw is not None:
                old = _status_codec.decode(old_raw)
                txn.delete(_sep(old.status) + b"\0" + ts + key, db=d["jobs_by_status"])
                if old.status != op.status:
                    self._add_to_count(txn, old.status, -1)
                    self._add_to_count(txn, op.status, +1)
            else:
                txn.put(ts + key, b"", db=d["jobs_by_time"])
                txn.put(_sep(op.domain) + b"\0" + ts + key, b"", db=d["jobs_by_domain"])
                self._add_to_count(txn, op.status, +1)
            txn.put(_sep(op.status) + b"\0" + ts + key, b"", db=d["jobs_by_status"])
            txn.put(key, op.raw, db=d["jobs"])
            # Kept apart from the time index: creation times come from the wall clock, which can
            # be set back, so the newest job need not carry the highest sequence number.
            seq_raw = txn.get(_MAX_SEQ_KEY, db=d["meta"])
            if seq_raw is None or op.seq > int(seq_raw):
                txn.put(_MAX_SEQ_KEY, str(op.seq).encode(), db=d["meta"])
            dom = op.domain.encode()
            if op.status in ACTIVE_STATUSES:
                txn.put(dom, key, db=d["active"])
            elif txn.get(dom, db=d["active"]) == key:
                txn.delete(dom, db=d["active"])
        elif isinstance(op, PutOutput):
            txn.put(_sep(op.job_id, op.module_id), op.raw, db=d["outputs"])
        elif isinstance(op, PutCache):
            txn.put(_sep(op.domain, op.module_id), op.raw, db=d["cache"])
        elif isinstance(op, InvalidateCache):
            for module_id in op.module_ids:
                key = _sep(op.domain, module_id)
                raw = txn.get(key, db=d["cache"])
                if raw is not None:
                    entry = _cache_codec.decode(raw)
                    if not entry.invalidated:
                        entry.invalidated = True
                        txn.put(key, _encoder.encode(entry), db=d["cache"])
        elif isinstance(op, PutBatch):
            txn.put(op.batch.batch_id.encode(), _encoder.encode(op.batch), db=d["batches"])
        elif isinstance(op, PutIdempotency):
            txn.put(op.key.encode(), _encoder.encode(op.record), db=d["idempotency"])
        elif isinstance(op, PutToken):
            txn.put(op.sha256.encode(), _encoder.encode(op.record), db=d["tokens"])
        elif isinstance(op, DeleteToken):
            txn.delete(op.sha256.encode(), db=d["tokens"])
        elif isinstance(op, PutCaseStudy):
            txn.put(op.record.id.encode(), _encoder.encode(op.record), db=d["case_studies"])
        elif isinstance(op, DeleteCaseStudy):
            txn.delete(op.id.encode(), db=d["case_studies"])
        elif isinstance(op, DeleteAllCaseStudies):
            # Empties the database but keeps it (delete=False): other handles stay valid.
            txn.drop(d["case_studies"], delete=False)
        elif isinstance(op, WriteProbe):
            txn.put(b"write_probe", repr(op.at).encode(), db=d["meta"])
        else:  # pragma: no cover - exhaustiveness guard
            raise TypeError(f"unknown store operation {op!r}")

    def write_now(self, ops: Iterable[Op]) -> None:
        """Apply ``ops`` in one transaction on this thread (CLI tools; the daemon has a writer)."""
        # A list, not the iterable itself: a retry after growing the map must see every op again.
        ops = list(ops)
        resized = False
        while True:
            try:
                with self.env.begin(write=True) as txn:
                    for op in ops:
                        self.apply(txn, op)
                return
            except lmdb.MapFullError:
                self.grow()
            except lmdb.MapResizedError:
                # The daemon grew the map since this handle opened it: adopt the size, once.
                if resized:
                    raise
                resized = True
                self.adopt_map_size()
            except (lmdb.Error, OSError) as exc:
                # A full disk or a read-only directory gets its clear message (the CLI prints it).
                failure = storage_error(exc, self.path)
                if failure is None:
                    raise
                raise failure from exc

    # -- reads ----------------------------------------------------------------------------------

    def _get(self, db: str, key: bytes) -> bytes | None:
        with self.env.begin(db=self.dbs[db]) as txn:
            raw = txn.get(key)
            return bytes(raw) if raw is not None else None

    def get_job(self, job_id: str) -> Job | None:
        """The job with this id, or None (a record held while storage fails wins over LMDB's)."""
        held = self.unsaved_jobs.get(job_id)
        if held is not None:
            return _job_codec.decode(held.raw)
        raw = self._get("jobs", job_id.encode())
        return _job_codec.decode(raw) if raw is not None else None

    def _job_at(self, txn: lmdb.Transaction, job_id: bytes, codec: _Codec[T]) -> T:
        """A job read inside ``txn`` by an index's id, preferring a held unsaved record."""
        held = self.unsaved_jobs.get(job_id.decode()) if self.unsaved_jobs else None
        if held is not None:
            return codec.decode(held.raw)
        return codec.decode(txn.get(job_id, db=self.dbs["jobs"]))

    def active_job_id(self, domain: str) -> str | None:
        """The id of the domain's queued or running job, if any."""
        raw = self._get("active", domain.encode())
        if raw is None:
            return None
        held = self.unsaved_jobs.get(raw.decode())
        if held is not None and held.status not in ACTIVE_STATUSES:
            return None  # it ended while its record could not be written
        return raw.decode()

    def active_jobs(self) -> list[QueuedJob]:
        """Every queued or running job, as much of it as resuming after a restart needs."""
        jobs: list[QueuedJob] = []
        with self.env.begin() as txn:
            for _, job_key in txn.cursor(db=self.dbs["active"]):
                raw = txn.get(bytes(job_key), db=self.dbs["jobs"])
                if raw is not None:
                    jobs.append(_queued_codec.decode(raw))
        return jobs

    def _iter_index(
        self, txn: lmdb.Transaction, db: str, prefix: bytes, *, newest_first: bool = True
    ) -> Iterator[bytes]:
        """Job ids from an index whose keys are ``prefix + ts(16 bytes) + job_id``."""
        cursor = txn.cursor(db=self.dbs[db])
        if newest_first:
            upper = prefix + b"\xff" * 17
            if not cursor.set_range(upper):
                if not cursor.last():
                    return
            elif not cursor.prev():
                return
            while True:
                k = bytes(cursor.key())
                if not k.startswith(prefix):
                    return
                yield k[len(prefix) + 16 :]
                if not cursor.prev():
                    return
        else:
            if not cursor.set_range(prefix):
                return
            for key, _ in cursor:
                k = bytes(key)
                if not k.startswith(prefix):
                    return
                yield k[len(prefix) + 16 :]

    def list_jobs(
        self,
        *,
        domain: str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Job], int]:
        """Jobs newest first, filtered by domain and/or status, and the filtered total."""
        return self._list(_job_codec, domain, status, limit, offset)

    def list_job_heads(
        self,
        *,
        domain: str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[JobHead], int]:
        """As :meth:`list_jobs`, but only the fields a job list shows (much cheaper)."""
        return self._list(_head_codec, domain, status, limit, offset)

    def _list(
        self, codec: _Codec[T], domain: str | None, status: str | None, limit: int, offset: int
    ) -> tuple[list[T], int]:
        with self.env.begin() as txn:
            if domain is None:
                # The total is a stored count, so only the page itself is read.
                if status is None:
                    ids = self._iter_index(txn, "jobs_by_time", b"")
                    total = int(txn.stat(self.dbs["jobs"])["entries"])
                else:
                    ids = self._iter_index(txn, "jobs_by_status", status.encode() + b"\0")
                    total = self.stored_count(txn, status)
                page = list(itertools.islice(ids, offset, offset + limit))
                return [self._job_at(txn, job_id, codec) for job_id in page], total
            # One domain has few jobs: walk them all for the total.
            out: list[T] = []
            total = 0
            for job_id in self._iter_index(txn, "jobs_by_domain", domain.encode() + b"\0"):
                if status is not None and self._job_at(txn, job_id, _status_codec).status != status:
                    continue
                total += 1
                if offset < total <= offset + limit:
                    out.append(self._job_at(txn, job_id, codec))
            return out, total

    def stored_count(self, txn: lmdb.Transaction, status: str) -> int:
        """The number of jobs in ``status`` as the store keeps it, read inside ``txn``."""
        raw = txn.get(_COUNT_PREFIX + status.encode(), db=self.dbs["meta"])
        return int.from_bytes(raw, "big") if raw is not None else 0

    def count_status(self, status: str, *, domain: str | None = None) -> int:
        """How many jobs have ``status`` (optionally for one domain)."""
        if domain is not None:
            return self._list(_status_codec, domain, status, 0, 0)[1]
        with self.env.begin() as txn:
            return self.stored_count(txn, status)

    def domain_jobs(self, domain: str) -> Iterator[Job]:
        """The domain's jobs, newest first (a generator: stop early for "latest" queries)."""
        with self.env.begin() as txn:
            ids = list(self._iter_index(txn, "jobs_by_domain", domain.encode() + b"\0"))
        for job_id in ids:
            job = self.get_job(job_id.decode())
            if job is not None:
                yield job

    def _by_module(self, db: str, owner: str, codec: _Codec[T]) -> dict[str, T]:
        """Every record keyed ``owner \\0 module id`` in ``db``, by module id."""
        prefix = owner.encode() + b"\0"
        result: dict[str, T] = {}
        with self.env.begin(db=self.dbs[db]) as txn:
            cursor = txn.cursor()
            if cursor.set_range(prefix):
                for key, value in cursor:
                    k = bytes(key)
                    if not k.startswith(prefix):
                        break
                    result[k[len(prefix) :].decode()] = codec.decode(bytes(value))
        return result

    def get_output(self, job_id: str, module_id: str) -> ModuleOutput | None:
        """The data one job recorded for one module."""
        raw = self._get("outputs", _sep(job_id, module_id))
        return _output_codec.decode(raw) if raw is not None else None

    def outputs(self, job_id: str) -> dict[str, ModuleOutput]:
        """Every module output recorded for a job."""
        return self._by_module("outputs", job_id, _output_codec)

    def output_heads(self, job_id: str) -> dict[str, OutputHead]:
        """Whether each recorded module output of a job is stale, without decoding its data."""
        return self._by_module("outputs", job_id, _output_head_codec)

    def get_cache(self, domain: str, module_id: str) -> CacheEntry | None:
        """The cache entry of (domain, module), or None."""
        raw = self._get("cache", _sep(domain, module_id))
        return _cache_codec.decode(raw) if raw is not None else None

    def cache_entries(self, domain: str) -> dict[str, CacheEntry]:
        """Every cache entry of a domain, by module id."""
        return self._by_module("cache", domain, _cache_codec)

    def cache_heads(self, domain: str) -> dict[str, CacheHead]:
        """The freshness fields of every cache entry of a domain, by module id (one read, and
        no module data decoded: what planning and estimating a job need)."""
        return self._by_module("cache", domain, _cache_head_codec)

    def get_batch(self, batch_id: str) -> Batch | None:
        """The batch with this id, or None."""
        raw = self._get("batches", batch_id.encode())
        return _batch_codec.decode(raw) if raw is not None else None

    def get_idempotency(self, key: str) -> IdempotencyRecord | None:
        """The remembered answer for an idempotency key, or None."""
        raw = self._get("idempotency", key.encode())
        return _idem_codec.decode(raw) if raw is not None else None

    def get_token(self, sha256: str) -> TokenRecord | None:
        """The token record with this hash, or None."""
        raw = self._get("tokens", sha256.encode())
        return _token_codec.decode(raw) if raw is not None else None

    def tokens(self) -> dict[str, TokenRecord]:
        """Every stored token, by hash."""
        with self.env.begin(db=self.dbs["tokens"]) as txn:
            return {bytes(k).decode(): _token_codec.decode(bytes(v)) for k, v in txn.cursor()}

    def list_case_studies(self) -> list[CaseStudy]:
        """Every case study, sorted by customer (case-insensitively), then id."""
        with self.env.begin(db=self.dbs["case_studies"]) as txn:
            studies = [_case_study_codec.decode(bytes(v)) for _, v in txn.cursor()]
        return sorted(studies, key=lambda s: (s.customer.casefold(), s.customer, s.id))

    def get_case_study(self, id: str) -> CaseStudy | None:
        """The case study with this id, or None."""
        raw = self._get("case_studies", id.encode())
        return _case_study_codec.decode(raw) if raw is not None else None

    def max_seq(self) -> int:
        """The highest job sequence number used so far (0 for an empty store)."""
        with self.env.begin() as txn:
            raw = txn.get(_MAX_SEQ_KEY, db=self.dbs["meta"])
            if raw is not None:
                return int(raw)
            # A store written before the meta key existed: scan the time index until a job is put.
            return max(
                (
                    int(struct.unpack(">QQ", bytes(key[:16]))[1])
                    for key in txn.cursor(db=self.dbs["jobs_by_time"]).iternext(values=False)
                ),
                default=0,
            )

    def stats(self) -> dict[str, Any]:
        """Entry counts per database and the map size, for health and metrics."""
        with self.env.begin() as txn:
            counts = {name: int(txn.stat(db)["entries"]) for name, db in self.dbs.items()}
        return {"entries": counts, "map_size": self.map_size}


# ---------------------------------------------------------------------------------------------
# Backup.

#: The LMDB environment's directory inside a data directory.
LMDB_DIRNAME = "enrichd.lmdb"


class BackupResult(NamedTuple):
    """What :func:`backup` wrote."""

    data_file: Path
    size: int
    entries: dict[str, int]


def backup(data_dir: str | os.PathLike[str], target: str | os.PathLike[str]) -> BackupResult:
    """Copy the store in ``data_dir`` to ``target`` as one consistent, compacted snapshot.

    Safe while the daemon runs: LMDB copies inside one read transaction, so the copy holds
    exactly the transactions committed when it began, and compaction leaves out free pages.
    ``target`` must be a new or empty directory; it receives ``enrichd.lmdb/data.mdb``, so the
    backup is itself a data directory (``--data-dir``) and restoring it is copying a directory.
    """
    source = Path(data_dir) / LMDB_DIRNAME
    if not (source / "data.mdb").is_file():
        raise StoreError(
            f"no enrichd store in {str(data_dir)!r} (expected {str(source / 'data.mdb')!r}): "
            "check --data-dir or storage.path"
        )
    root = Path(target)
    created = _prepare_backup_target(root)
    dest = root / LMDB_DIRNAME
    try:
        dest.mkdir()
        _copy_env(source, dest)
        return _describe_backup(dest)
    except BaseException as exc:
        # Never leave a half-written backup that looks like a good one.
        shutil.rmtree(dest, ignore_errors=True)
        if created:
            shutil.rmtree(root, ignore_errors=True)
        if isinstance(exc, lmdb.Error | OSError):
            failure = storage_error(exc, root)
            why = failure.detail if failure is not None else str(exc)
            raise StoreError(f"backup to {str(root)!r} failed: {why} ({exc})") from exc
        raise


def _prepare_backup_target(root: Path) -> bool:
    """Check that ``root`` is new or an empty directory; True if it is created here."""
    if root.exists() or root.is_symlink():
        if not root.is_dir():
            raise StoreError(f"backup target {str(root)!r} exists and is not a directory")
        if any(root.iterdir()):
            raise StoreError(
                f"backup target {str(root)!r} is not empty: give a new or empty directory "
                "(a backup never overwrites files)"
            )
        return False
    try:
        root.mkdir(parents=True)
    except OSError as exc:
        raise StoreError(f"cannot create the backup directory {str(root)!r}: {exc}") from None
    return True


def _copy_env(source: Path, dest: Path) -> None:
    """``mdb_env_copy2`` with compaction, from a read-only handle on the live environment."""
    for attempt in range(3):
        # A generous map: the daemon may grow the file while we copy, and a reader whose map is
        # smaller than the data gets MapResizedError. Read-only, it only reserves address space.
        size = max(4 * (source / "data.mdb").stat().st_size, 1 << 30)
        env = lmdb.open(
            str(source), subdir=True, readonly=True, map_size=size, max_dbs=len(_DB_NAMES) + 4
        )
        try:
            env.copy(str(dest), compact=True)
            return
        except lmdb.MapResizedError:
            if attempt == 2:
                raise
            # The copy may have created its output file before failing; LMDB refuses to reuse it.
            (dest / "data.mdb").unlink(missing_ok=True)
        finally:
            env.close()


def _describe_backup(dest: Path) -> BackupResult:
    """Open the copy (read-only, without a lock file) to check it and count its records."""
    env = lmdb.open(str(dest), subdir=True, readonly=True, lock=False, max_dbs=len(_DB_NAMES) + 4)
    try:
        counts: dict[str, int] = {}
        with env.begin() as txn:
            names = {bytes(k).decode() for k, _ in txn.cursor()}
        for name in _DB_NAMES:
            if name in names:
                db = env.open_db(name.encode())
                with env.begin() as txn:
                    counts[name] = int(txn.stat(db)["entries"])
    finally:
        env.close()
    data_file = dest / "data.mdb"
    return BackupResult(data_file, data_file.stat().st_size, counts)
