"""Waiting for a job or a search on stderr: on a terminal a live ``rich`` progress bar;
on anything else (a pipe, a log file) one line each time what it shows changes. Ctrl-C
stops the waiting only (the job or search goes on), with exit status 130."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any, TextIO

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from tensorfleet.cli.common import EXIT_INTERRUPTED
from tensorfleet.client import TensorFleetClient
from tensorfleet.formatting import ended
from tensorfleet.views import job_progress_line, progress_detail, progress_line

JOB_POLL = 1.0  # seconds a job is long-polled for between two looks at its progress
SEARCH_POLL = 1.0  # seconds between two looks at a search being waited for


class _Bar:
    """A context manager: a rich progress bar on ``file`` when ``tty`` (else nothing drawn,
    and :meth:`line` prints a line each time it changes)."""

    def __init__(self, file: TextIO, tty: bool | None, counted: bool) -> None:
        self.file = file
        self.tty = file.isatty() if tty is None else tty
        self.counted = counted
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._last = ""

    def __enter__(self) -> _Bar:
        if self.tty:
            console = Console(file=self.file, force_terminal=True, highlight=False)
            done = MofNCompleteColumn() if self.counted else TaskProgressColumn()
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(bar_width=30),
                done,
                TimeElapsedColumn(),
                TextColumn("{task.fields[detail]}"),
                console=console,
                auto_refresh=False,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def draw(self, description: str, completed: int, total: int, detail: str) -> None:
        """Move the bar (on a terminal)."""
        assert self._progress is not None
        if self._task is None:
            self._task = self._progress.add_task(description, total=total, detail=detail)
        self._progress.update(
            self._task, description=description, completed=completed, total=total, detail=detail
        )
        self._progress.refresh()

    def line(self, text: str) -> None:
        """Print ``text`` unless it is the line printed last (off a terminal)."""
        if text != self._last:
            click.echo(text, file=self.file)
            self._last = text


class JobProgress(_Bar):
    """``on_progress`` of :meth:`TensorFleetClient.wait` for the CLI: the job's percent,
    its status and stage."""

    def __init__(self, file: TextIO, tty: bool | None = None, label: str = "training") -> None:
        super().__init__(file, tty, counted=False)
        self.label = label

    def __enter__(self) -> JobProgress:
        super().__enter__()
        return self

    def __call__(self, job: dict[str, Any]) -> None:
        """Show ``job``'s progress."""
        if not self.tty:
            self.line(job_progress_line(job))
            return
        progress = job.get("progress") or {}
        stage = progress.get("stage") or ""
        detail = job["status"] if stage in ("", job["status"]) else f"{job['status']}: {stage}"
        self.draw(self.label, int(progress.get("percent") or 0), 100, detail)


class SearchProgress(_Bar):
    """``on_progress`` of :meth:`TensorFleetClient.wait_search` for the CLI: trials ended
    out of ``total`` and the search's :func:`~tensorfleet.views.progress_detail`; off a
    terminal one :func:`~tensorfleet.views.progress_line` each time that line changes."""

    def __init__(self, total: int, file: TextIO, tty: bool | None = None) -> None:
        super().__init__(file, tty, counted=True)
        self.total = total

    def __enter__(self) -> SearchProgress:
        super().__enter__()
        return self

    def __call__(self, search: dict[str, Any]) -> None:
        """Show ``search``'s progress."""
        if not self.tty:
            self.line(progress_line(search))
            return
        total = max(self.total, 1)
        self.draw("trials", min(ended(search), total), total, progress_detail(search))


def wait_for_job(
    fleet: TensorFleetClient, job_id: str, timeout: float, label: str = "training"
) -> dict[str, Any]:
    """Wait for a job with a :class:`JobProgress` on stderr; Ctrl-C stops waiting only."""
    try:
        with JobProgress(sys.stderr, label=label) as progress:
            return fleet.wait(job_id, timeout=timeout, poll=JOB_POLL, on_progress=progress)
    except KeyboardInterrupt:
        click.echo(
            f"stopped waiting: job {job_id} goes on (status {job_id}; cancel {job_id} stops it)",
            err=True,
        )
        sys.exit(EXIT_INTERRUPTED)


def wait_for_search(
    fleet: TensorFleetClient, search: dict[str, Any], timeout: float
) -> dict[str, Any]:
    """Wait for a search with a :class:`SearchProgress` on stderr; Ctrl-C stops waiting only."""
    search_id = search["search_id"]
    total = (search.get("progress") or {}).get("total", 0)
    try:
        with SearchProgress(total, sys.stderr) as progress:
            return fleet.wait_search(
                search_id, timeout=timeout, poll=SEARCH_POLL, on_progress=progress
            )
    except KeyboardInterrupt:
        click.echo(
            f"stopped waiting: search {search_id} goes on"
            f" (search show {search_id}; search cancel {search_id} stops it)",
            err=True,
        )
        sys.exit(EXIT_INTERRUPTED)
