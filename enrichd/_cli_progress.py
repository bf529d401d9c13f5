"""The command-line client's rich rendering: live progress bars and the tables of each answer.

Only :mod:`enrichd._cli_client` uses it, and only for people: the bars run only when standard
output is a terminal, and ``--format json`` bypasses the tables entirely. Every console is built
with ``markup=False``: domains, messages and citation titles (``[sandbox: simulated] ...``) are
data, never rich markup.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Self, TextIO

from rich.console import Console, Group, RenderableType
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from .api._schemas import (
    BatchResponse,
    CacheResponse,
    CancelResponse,
    JobCreated,
    JobListResponse,
    JobStatusResponse,
    ResultsResponse,
)

#: Job statuses after which nothing changes any more.
TERMINAL = frozenset({"completed", "failed", "cancelled"})
#: Module statuses that are still to come.
_UNFINISHED = frozenset({"pending", "running"})
_STATUS_STYLE = {
    "completed": "green",
    "cached": "green",
    "failed": "red",
    "cancelled": "yellow",
    "skipped": "yellow",
    "running": "cyan",
    "queued": "dim",
    "pending": "dim",
    "fresh": "green",
    "stale": "yellow",
    "expired": "red",
    "missing": "dim",
}
#: How much of one result value the table shows; ``--format json`` shows everything.
_VALUE_WIDTH = 120
#: Widest table written when standard output is not a terminal (a file, a pipe).
_PIPE_WIDTH = 200


def make_console(file: TextIO, *, terminal: bool) -> Console:
    """A console on ``file``: colours and live display on a terminal, plain text otherwise."""
    return Console(
        file=file,
        force_terminal=terminal,
        width=None if terminal else _PIPE_WIDTH,
        markup=False,
        highlight=False,
        emoji=False,
    )


def _styled(status: str) -> Text:
    return Text(status, style=_STATUS_STYLE.get(status, ""))


def _seconds(value: float | None) -> str:
    """``value`` seconds for people: 0.4 s, 12.3 s, 4m 05s, 2h 03m."""
    if value is None:
        return ""
    if value < 60:
        return f"{value:.1f} s"
    minutes, secs = divmod(int(value), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def _ttl(value: int | None) -> str:
    """A remaining lifetime in the largest two units: 29d 23h, 5h 12m, 40s."""
    if value is None:
        return ""
    days, rest = divmod(max(0, value), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


def _value(value: Any) -> str:
    """One result field as a short line: scalars as they are, lists joined, the rest as JSON."""
    if value is None:
        return ""
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        text = ", ".join(str(v) for v in value)
    elif isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    else:
        text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= _VALUE_WIDTH else text[: _VALUE_WIDTH - 1] + "…"


def _pairs(rows: Iterable[tuple[str, Any]]) -> Table:
    """A borderless two-column table of labels and values."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for label, value in rows:
        table.add_row(label, value if isinstance(value, Text) else Text(str(value)))
    return table


# --- answers as tables -------------------------------------------------------------------------


def job_created_view(job: JobCreated) -> RenderableType:
    """A job that was just started or retried."""
    rows: list[tuple[str, Any]] = [
        ("job", job.job_id),
        ("domain", job.domain),
        ("status", _styled(job.status)),
        ("modules", f"{len(job.modules)}: {', '.join(job.modules)}"),
        ("waves", ", ".join(str(w) for w in job.waves)),
        ("priority", job.priority + (" (force: cache bypassed)" if job.force else "")),
        ("estimated", _seconds(job.estimated_time_seconds)),
        ("created", job.created_at),
    ]
    if job.retry_of:
        rows.append(("retry of", job.retry_of))
    return _pairs(rows)


def _module_note(error: str | None, message: str | None, cached: bool, stale: bool) -> str:
    if error:
        return f"{error}: {message}" if message else error
    notes = (["cached"] if cached else []) + (["stale"] if stale else [])
    return ", ".join(notes)


def status_view(status: JobStatusResponse) -> RenderableType:
    """A job's status: a summary, then every module by wave."""
    finished = status.modules_completed + status.modules_failed
    summary: list[tuple[str, Any]] = [
        ("job", status.job_id),
        ("domain", status.domain),
        ("status", _styled(status.status)),
        ("progress", f"{status.progress_percent:.0f}% ({finished}/{status.modules_total} modules)"),
        ("failed", str(status.modules_failed)),
        ("created", status.created_at),
    ]
    if status.started_at:
        summary.append(("started", status.started_at))
    if status.completed_at:
        summary.append(("finished", f"{status.completed_at} ({_seconds(status.duration_seconds)})"))
    elif status.status not in TERMINAL:
        summary.append(("estimated", _seconds(status.estimated_time_seconds)))
    if status.batch_id:
        summary.append(("batch", status.batch_id))
    if status.retry_of:
        summary.append(("retry of", status.retry_of))
    if status.message:
        summary.append(("message", status.message))
    table = Table(show_edge=False, pad_edge=False)
    for name in ("wave", "module", "status", "time", "data points", "source", "note"):
        table.add_column(name, justify="right" if name in ("wave", "data points") else "left")
    for wave in status.waves:
        for module in wave.modules:
            points = module.data_points_collected
            table.add_row(
                str(wave.wave_number),
                module.module_id,
                _styled(module.status),
                _seconds(module.duration_seconds),
                "" if points is None else str(points),
                module.source or "",
                _module_note(module.error, module.message, module.cached, module.stale),
            )
    return Group(_pairs(summary), Text(""), table)


def results_view(results: ResultsResponse) -> RenderableType:
    """A job's results: each module's status, then each module's fields and citations."""
    parts: list[RenderableType] = [
        _pairs(
            [
                ("job", results.job_id),
                ("domain", results.domain),
                ("status", _styled(results.status)),
                ("finished", results.completed_at or ""),
            ]
        ),
        Text(""),
    ]
    table = Table(show_edge=False, pad_edge=False)
    for name in ("module", "status", "data points", "source", "time", "note"):
        table.add_column(name, justify="right" if name == "data points" else "left")
    for module_id, st in results.module_statuses.items():
        note = _module_note(st.error, st.message, st.cached, st.stale)
        if st.warnings:
            note = "; ".join([note, *st.warnings] if note else st.warnings)
        table.add_row(
            module_id,
            _styled(st.status),
            "" if st.data_points is None else str(st.data_points),
            st.source or "",
            "" if st.duration_ms is None else _seconds(st.duration_ms / 1000),
            note,
        )
    parts.append(table)
    for module_id, data in results.results.items():
        parts.extend([Text(""), Text(module_id, style="bold underline")])
        parts.append(_pairs((key, _value(value)) for key, value in data.items()))
        for citation in results.source_citations.get(module_id, []):
            parts.append(Text(f"  source: {citation.title} <{citation.url}>", style="dim"))
    return Group(*parts)


def jobs_view(listing: JobListResponse) -> RenderableType:
    """The job list, and where this page sits in it."""
    table = Table(show_edge=False, pad_edge=False)
    for name in ("job", "domain", "status", "progress", "modules", "failed", "priority", "created"):
        # fold: a job id is copied from here, so it wraps rather than losing its end to "…".
        table.add_column(
            name, justify="right" if name in ("progress", "failed") else "left", overflow="fold"
        )
    for job in listing.jobs:
        table.add_row(
            job.job_id,
            job.domain,
            _styled(job.status),
            f"{job.progress_percent:.0f}%",
            f"{job.modules_completed}/{job.modules_total}",
            str(job.modules_failed),
            job.priority,
            job.created_at,
        )
    shown = (
        f"jobs {listing.offset + 1}-{listing.offset + len(listing.jobs)}"
        if listing.jobs
        else "no jobs"
    )
    footer = (
        f"{shown} of {listing.total} ({listing.running_count} running, "
        f"{listing.queued_count} queued in the daemon)"
    )
    if listing.offset + len(listing.jobs) < listing.total:
        footer += f"; next page: --offset {listing.offset + len(listing.jobs)}"
    return Group(table, Text(footer, style="dim"))


def cache_view(cache: CacheResponse) -> RenderableType:
    """Each module's cache entry for a domain and its freshness."""
    table = Table(show_edge=False, pad_edge=False)
    for name in ("module", "freshness", "cached at", "expires in", "ttl", "source"):
        table.add_column(name)
    for module in cache.modules:
        table.add_row(
            module.module_id,
            _styled(module.freshness),
            module.cached_at or "",
            _ttl(module.ttl_remaining_seconds),
            _ttl(module.ttl_seconds),
            module.source or "",
        )
    summary: list[tuple[str, Any]] = [
        ("domain", cache.domain),
        ("overall", _styled(cache.overall_freshness)),
        ("last enriched", cache.last_enrichment or "never"),
    ]
    if cache.stale_modules:
        summary.append(("stale", ", ".join(cache.stale_modules)))
    return Group(_pairs(summary), Text(""), table)


def cancel_view(cancel: CancelResponse) -> RenderableType:
    """The answer to a cancel."""
    return _pairs(
        [
            ("job", cancel.job_id),
            ("status", _styled(cancel.status)),
            ("message", cancel.message),
        ]
    )


def batch_view(batch: BatchResponse) -> RenderableType:
    """A batch: each job's status, and the domains it skipped with the reason."""
    counts = batch.status_counts or {}
    summary: list[tuple[str, Any]] = [
        ("batch", batch.batch_id),
        ("status", _styled(batch.status)),
        (
            "domains",
            f"{batch.total_domains} ({batch.queued_count} started, {batch.skipped_count} skipped)",
        ),
    ]
    if counts:
        summary.append(("jobs", ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))))
    elif batch.status not in TERMINAL:
        summary.append(("estimated", _seconds(batch.estimated_time_seconds)))
    table = Table(show_edge=False, pad_edge=False)
    for name in ("domain", "status", "progress", "job"):
        table.add_column(name, justify="right" if name == "progress" else "left", overflow="fold")
    for job in batch.jobs:
        pct = "" if job.progress_percent is None else f"{job.progress_percent:.0f}%"
        table.add_row(job.domain, _styled(job.status), pct, job.job_id)
    parts: list[RenderableType] = [_pairs(summary), Text(""), table]
    if batch.skipped:
        skipped = Table(show_edge=False, pad_edge=False, title="skipped", title_justify="left")
        for name in ("domain", "reason", "message"):
            skipped.add_column(name)
        for skip in batch.skipped:
            skipped.add_row(skip.domain, Text(skip.reason, style="yellow"), skip.message)
        parts.extend([Text(""), skipped])
    return Group(*parts)


# --- live progress -----------------------------------------------------------------------------


def _progress(console: Console) -> Progress:
    # transient: the bars make way for the final table, which says the same thing in full.
    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(bar_width=30),
        TaskProgressColumn(),
        TextColumn("{task.fields[state]}", markup=False),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


class _Bars:
    """A rich :class:`Progress` used as a context manager."""

    def __init__(self, console: Console) -> None:
        self.progress = _progress(console)

    def __enter__(self) -> Self:
        self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.progress.stop()


class JobBars(_Bars):
    """Live bars for one job: one for the job, one per wave (modules finished of the wave's)."""

    def __init__(self, console: Console, domain: str) -> None:
        super().__init__(console)
        self.domain = domain
        self._job = self.progress.add_task(domain, total=None, state="queued")
        self._waves: dict[int, TaskID] = {}

    def update(self, status: JobStatusResponse) -> None:
        """Show ``status`` (a :meth:`enrichd.client.Client.wait` callback)."""
        done_total = 0
        for wave in status.waves:
            total = len(wave.modules)
            done = sum(1 for m in wave.modules if m.status not in _UNFINISHED)
            done_total += done
            running = [m.module_id for m in wave.modules if m.status == "running"]
            failed = sum(1 for m in wave.modules if m.status == "failed")
            state = f"{done}/{total} · {wave.status}" + (f" · {failed} failed" if failed else "")
            if running:
                # Two names at most: a long line would squeeze the bar to nothing.
                more = f" +{len(running) - 2}" if len(running) > 2 else ""
                state += " · " + ", ".join(running[:2]) + more
            task = self._waves.get(wave.wave_number)
            if task is None:
                task = self.progress.add_task(f"  wave {wave.wave_number}", total=total, state="")
                self._waves[wave.wave_number] = task
            self.progress.update(task, total=total, completed=done, state=state)
        total_modules = sum(len(w.modules) for w in status.waves) or status.modules_total
        failed_text = f" · {status.modules_failed} failed" if status.modules_failed else ""
        self.progress.update(
            self._job,
            total=total_modules,
            completed=done_total,
            state=f"{done_total}/{total_modules} modules · {status.status}{failed_text}",
        )


class BatchBars(_Bars):
    """Live bars for a batch: one for the batch (jobs finished) and one per started job.

    Queued jobs have no bar (a batch of hundreds would not fit the screen); each job that
    finishes prints one line above the bars, so the scrollback keeps every outcome.
    """

    def __init__(self, console: Console, batch_id: str, jobs: int) -> None:
        super().__init__(console)
        self._batch = self.progress.add_task(batch_id, total=jobs, state="queued")
        self._jobs: dict[str, TaskID] = {}
        self._reported: set[str] = set()

    def update(self, batch: BatchResponse) -> None:
        """Show ``batch`` (from ``GET /api/v1/enrich/batch/{id}``)."""
        for job in batch.jobs:
            if job.job_id in self._reported:
                continue
            if job.status in TERMINAL:
                self._finish(job.job_id, job.domain, job.status)
            elif job.status != "queued":
                task = self._jobs.get(job.job_id)
                if task is None:
                    task = self.progress.add_task(f"  {job.domain}", total=100, state="")
                    self._jobs[job.job_id] = task
                pct = job.progress_percent or 0.0
                self.progress.update(task, completed=pct, state=job.status)
        counts = batch.status_counts or {}
        state = f"{len(self._reported)}/{len(batch.jobs)} jobs · " + (
            ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or batch.status
        )
        self.progress.update(
            self._batch, total=len(batch.jobs), completed=len(self._reported), state=state
        )

    def _finish(self, job_id: str, domain: str, status: str) -> None:
        self._reported.add(job_id)
        task = self._jobs.pop(job_id, None)
        if task is not None:
            self.progress.remove_task(task)
        mark = "✓" if status == "completed" else "✗"
        line = Text(f"{mark} {domain} ", style="")
        line.append(status, style=_STATUS_STYLE.get(status, ""))
        line.append(f"  {job_id}", style="dim")
        self.progress.console.print(line)
