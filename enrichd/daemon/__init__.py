"""The runtime: store, writer, scheduler, job supervisors and source actors."""

from ._cache import CachePolicy, freshness
from ._engine import Engine, JobRequest
from ._errors import Conflict, EngineError, Invalid, NotFound, Unavailable
from ._records import Batch, CacheEntry, Job, ModuleOutput, ModuleState
from ._store import SCHEMA_VERSION, Store, StoreError
from ._writer import StoreWriter

__all__ = [
    "SCHEMA_VERSION",
    "Batch",
    "CacheEntry",
    "CachePolicy",
    "Conflict",
    "Engine",
    "EngineError",
    "Invalid",
    "Job",
    "JobRequest",
    "ModuleOutput",
    "ModuleState",
    "NotFound",
    "Store",
    "StoreError",
    "StoreWriter",
    "Unavailable",
    "freshness",
]
