"""The LMDB store: named databases, msgpack-encoded records, reads, and write operations.

Reads run straight against LMDB on the caller's thread in short read transactions (never held
across an ``await``). Writes are expressed as :class:`Op` values and applied by the
:class:`~enrichd.daemon._writer.StoreWriter`, the only writer, in one transaction per batch. Index
maintenance happens inside :meth:`Store.apply`, so an index can never disagree with its record.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

import lmdb
import msgspec

from ..plugins._types import CaseStudy
from ._records import (
    ACTIVE_STATUSES,
    Batch,
    CacheEntry,
    IdempotencyRecord,
    Job,
    ModuleOutput,
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


class StoreError(Exception):
    """The store cannot be opened or written; the message says what to do."""


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
_cache_codec = _Codec(CacheEntry)
_output_codec = _Codec(ModuleOutput)
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
        self._check_schema()

    def _check_schema(self) -> None:
        with self.env.begin(write=True, db=self.dbs["meta"]) as txn:
            raw = txn.get(b"schema_version")
            if raw is None:
                txn.put(b"schema_version", str(SCHEMA_VERSION).encode())
                return
        found = bytes(raw).decode(errors="replace")
        if found != str(SCHEMA_VERSION):
            self.env.close()
            raise StoreError(
                f"the store at {str(self.path)!r} has schema version {found!r}, this enrichd "
                f"needs {SCHEMA_VERSION}: restore a backup made by a matching version"
            )

    def close(self) -> None:
        """Close the environment."""
        self.env.close()

    @property
    def map_size(self) -> int:
        """The current LMDB map size in bytes."""
        return int(self.env.info()["map_size"])

    def grow(self) -> None:
        """Double the map size. Only call with no transaction open in this process."""
        self.env.set_mapsize(self.map_size * 2)

    # -- writes ---------------------------------------------------------------------------------

    def apply(self, txn: lmdb.Transaction, op: Op) -> None:
        """Apply one write operation inside the writer's transaction."""
        d = self.dbs
        if isinstance(op, PutJob):
            key = op.job_id.encode()
            old_raw = txn.get(key, db=d["jobs"])
            ts = _ts_key(op.created_at, op.seq)
            if old_raw is not None:
                old = _job_codec.decode(old_raw)
                txn.delete(_sep(old.status) + b"\0" + ts + key, db=d["jobs_by_status"])
            else:
                txn.put(ts + key, b"", db=d["jobs_by_time"])
                txn.put(_sep(op.domain) + b"\0" + ts + key, b"", db=d["jobs_by_domain"])
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
        else:  # pragma: no cover - exhaustiveness guard
            raise TypeError(f"unknown store operation {op!r}")

    def write_now(self, ops: Iterable[Op]) -> None:
        """Apply ``ops`` in one transaction on this thread (CLI tools; the daemon has a writer)."""
        # A list, not the iterable itself: a retry after growing the map must see every op again.
        ops = list(ops)
        while True:
            try:
                with self.env.begin(write=True) as txn:
                    for op in ops:
                        self.apply(txn, op)
                return
            except lmdb.MapFullError:
                self.grow()

    # -- reads ----------------------------------------------------------------------------------

    def _get(self, db: str, key: bytes) -> bytes | None:
        with self.env.begin(db=self.dbs[db]) as txn:
            raw = txn.get(key)
            return bytes(raw) if raw is not None else None

    def get_job(self, job_id: str) -> Job | None:
        """The job with this id, or None."""
        raw = self._get("jobs", job_id.encode())
        return _job_codec.decode(raw) if raw is not None else None

    def active_job_id(self, domain: str) -> str | None:
        """The id of the domain's queued or running job, if any."""
        raw = self._get("active", domain.encode())
        return raw.decode() if raw is not None else None

    def active_jobs(self) -> list[Job]:
        """Every queued or running job (for resuming after a restart)."""
        jobs: list[Job] = []
        with self.env.begin() as txn:
            for _, job_key in txn.cursor(db=self.dbs["active"]):
                raw = txn.get(bytes(job_key), db=self.dbs["jobs"])
                if raw is not None:
                    jobs.append(_job_codec.decode(raw))
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
        with self.env.begin() as txn:
            if domain is not None:
                ids: Iterator[bytes] = self._iter_index(
                    txn, "jobs_by_domain", domain.encode() + b"\0"
                )
            elif status is not None:
                ids = self._iter_index(txn, "jobs_by_status", status.encode() + b"\0")
            else:
                ids = self._iter_index(txn, "jobs_by_time", b"")
            jobs_db = self.dbs["jobs"]
            if domain is None and status is None:
                total = int(txn.stat(jobs_db)["entries"])
                selected = []
                for i, job_id in enumerate(ids):
                    if i >= offset + limit:
                        break
                    if i >= offset:
                        selected.append(job_id)
                out = [_job_codec.decode(txn.get(j, db=jobs_db)) for j in selected]
                return out, total
            out = []
            total = 0
            for job_id in ids:
                if domain is not None and status is not None:
                    job = _job_codec.decode(txn.get(job_id, db=jobs_db))
                    if job.status != status:
                        continue
                    total += 1
                    if offset < total <= offset + limit:
                        out.append(job)
                    continue
                total += 1
                if offset < total <= offset + limit:
                    out.append(_job_codec.decode(txn.get(job_id, db=jobs_db)))
            return out, total

    def count_status(self, status: str, *, domain: str | None = None) -> int:
        """How many jobs have ``status`` (optionally for one domain)."""
        if domain is not None:
            return self.list_jobs(domain=domain, status=status, limit=1)[1]
        with self.env.begin() as txn:
            return sum(1 for _ in self._iter_index(txn, "jobs_by_status", status.encode() + b"\0"))

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

    def get_cache(self, domain: str, module_id: str) -> CacheEntry | None:
        """The cache entry of (domain, module), or None."""
        raw = self._get("cache", _sep(domain, module_id))
        return _cache_codec.decode(raw) if raw is not None else None

    def cache_entries(self, domain: str) -> dict[str, CacheEntry]:
        """Every cache entry of a domain, by module id."""
        return self._by_module("cache", domain, _cache_codec)

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
