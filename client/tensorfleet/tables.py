"""The CLI's tables (``rich``): one function per list the API answers (jobs, models,
datasets, algorithms, searches, trials, a leaderboard, keys, aliases, predictions), each
taking the API's answer and returning a renderable; :func:`render` makes text lines of one.

Tables have a bold header and no borders, one line per row, columns two spaces apart, so
they read well on a terminal and still split into fields in a pipe; the widest free-text
column is cut (``…``) to keep each line within the width.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Column, Table
from rich.text import Text

from tensorfleet.formatting import (
    clip,
    dataset_ref,
    model_ref,
    number,
    one_line,
    pairs,
    score,
    seconds,
    status,
    trials_ended,
    when,
)
from tensorfleet.formatting import value as shown

TABLE_WIDTH = 100  # tables fit this many columns, unless stdout is a wider terminal
WORKER_WIDTH = 24  # a worker's name is cut beyond this
Cell = str | Text


def render(renderable: RenderableType, width: int = TABLE_WIDTH) -> list[str]:
    """``renderable`` as plain text lines at most ``width`` wide (no colours, no trailing
    blanks): what a pipe or a test sees."""
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, highlight=False, emoji=False)
    console.print(renderable)
    return [line.rstrip() for line in out.getvalue().splitlines()]


class FitTable:
    """A borderless table that fits the width it is drawn at: one line per row, columns
    two spaces apart. When the rows are wider than the room, the columns of ``cut`` are
    shortened (``…``, never below their header), group by group: a group is a column or
    a tuple of columns, each cut by its share of what they are wider than their headers."""

    def __init__(
        self,
        headers: Sequence[str],
        rows: Iterable[Sequence[Cell]],
        right: Iterable[int] = (),
        cut: Iterable[int | tuple[int, ...]] = (-1,),
    ) -> None:
        self.headers = list(headers)
        self.rows = [[c if isinstance(c, Text) else Text(str(c)) for c in row] for row in rows]
        n = len(self.headers)
        self.right = {i % n for i in right}
        self.cut = [[i % n for i in ((g,) if isinstance(g, int) else g)] for g in cut]

    def widths(self, room: int) -> list[int]:
        """Each column's width for ``room`` characters."""
        widths = [
            max([len(header)] + [row[i].cell_len for row in self.rows])
            for i, header in enumerate(self.headers)
        ]
        excess = sum(widths) + 2 * (len(widths) - 1) - room
        for group in self.cut:
            if excess <= 0:
                break
            spare = {i: widths[i] - max(len(self.headers[i]), 1) for i in group}
            cuts = _shares(excess, spare)
            for i, taken in cuts.items():
                widths[i] -= taken
            excess -= sum(cuts.values())
        return widths

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """The rich table at the width of ``options``."""
        columns = [
            Column(
                header,
                justify="right" if i in self.right else "left",
                width=width,
                no_wrap=True,
                overflow="ellipsis",
            )
            for i, (header, width) in enumerate(
                zip(self.headers, self.widths(options.max_width), strict=True)
            )
        ]
        grid = Table(*columns, box=None, pad_edge=False, header_style="bold")
        for row in self.rows:
            grid.add_row(*row)
        yield grid


def _shares(excess: int, spare: dict[int, int]) -> dict[int, int]:
    """How much each column gives of ``excess``: in proportion to its ``spare``, at most it."""
    total = sum(spare.values())
    if total <= 0:
        return dict.fromkeys(spare, 0)
    wanted = min(excess, total)
    taken = {i: wanted * room // total for i, room in spare.items()}
    left = wanted - sum(taken.values())
    for i in sorted(spare, key=lambda i: spare[i] - taken[i], reverse=True):
        extra = min(left, spare[i] - taken[i])
        taken[i] += extra
        left -= extra
    return taken


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    right: Iterable[int] = (),
    cut: Iterable[int | tuple[int, ...]] = (-1,),
) -> FitTable:
    """A :class:`FitTable`: ``headers``, then ``rows`` (cells as text, never markup), the
    columns in ``right`` right-aligned, those of ``cut`` shortened to fit (see there)."""
    return FitTable(headers, rows, right, cut)


def footer(page: dict[str, Any], noun: str, extra: str = "") -> Text:
    """``models 1-20 of 35; more: --page 2``: which items of a page these are."""
    items, total = page.get("items") or [], page.get("total", 0)
    first = (page.get("page", 1) - 1) * page.get("limit", len(items)) + 1
    last = first + len(items) - 1
    line = f"{noun} {first}-{last} of {max(total, last)}{extra}"
    if last < total:
        line += f"; more: --page {page.get('page', 1) + 1}"
    return Text(line, style="dim")


def paged(page: dict[str, Any], noun: str, grid: FitTable, extra: str = "") -> RenderableType:
    """``grid``, a blank line and the :func:`footer` (or ``(no NOUN)``)."""
    if not page.get("items"):
        return Text(f"(no {noun})")
    return Group(grid, Text(""), footer(page, noun, extra))


# jobs


def _job_model(job: dict[str, Any]) -> str:
    result, pinned = job.get("result") or {}, job.get("model") or {}
    if job.get("kind") == "predict":
        return model_ref(pinned.get("name"), pinned.get("version"))
    return model_ref(job.get("model_name"), result.get("version"))


def _job_status(job: dict[str, Any]) -> Text:
    shown = status(job.get("status"))
    if job.get("status") == "running":
        shown.append(f" {(job.get('progress') or {}).get('percent') or 0}%")
    return shown


def _job_score(job: dict[str, Any]) -> str:
    result = job.get("result") or {}
    metrics = result.get("metrics") or {}
    for metric in ("test_accuracy", "r2"):
        if metric in metrics:
            return number(metrics[metric])
    return f"{result['rows']} rows" if result.get("rows") is not None else "-"


def _job_what(job: dict[str, Any]) -> str:
    dataset = dataset_ref(job.get("dataset"), job.get("dataset_version"))
    return f"{job['algorithm']} on {dataset}" if job.get("algorithm") else dataset


def jobs_table(page: dict[str, Any]) -> RenderableType:
    """A page of jobs: id, (kind, when not all train,) status, model, score (test accuracy
    or r2; rows predicted), what (algorithm on dataset), created."""
    items = page.get("items") or []
    kinds = any((job.get("kind") or "train") != "train" for job in items)
    rows = [
        [
            job["job_id"],
            *([job.get("kind") or "train"] if kinds else []),
            _job_status(job),
            _job_model(job),
            _job_score(job),
            _job_what(job),
            when(job.get("created_at"))[:16],
        ]
        for job in items
    ]
    headers = ["job", *(["kind"] if kinds else []), "status", "model", "score", "what",
               "created"]  # fmt: skip
    model = 3 if kinds else 2
    grid = table(headers, rows, right=(model + 1,), cut=((model, model + 2),))
    return paged(page, "jobs", grid)


# the model registry


def models_table(page: dict[str, Any]) -> RenderableType:
    """A page of models: name@version (what names it everywhere; ``models show`` has its
    id), algorithm, dataset, score, aliases, (tags, when any,) created."""
    items = page.get("items") or []
    tagged = any(m.get("tags") for m in items)
    rows = [
        [
            model_ref(m.get("name"), m.get("version")),
            m.get("algorithm") or "-",
            dataset_ref(m.get("dataset_name"), m.get("dataset_version")),
            number(m.get("score")),
            ", ".join(m.get("aliases") or []) or "-",
            *([pairs(m.get("tags")) or "-"] if tagged else []),
            when(m.get("created_at"))[:16],
        ]
        for m in items
    ]
    headers = ["model", "algorithm", "dataset", "score", "aliases", *(["tags"] if tagged else []),
               "created"]  # fmt: skip
    cut = ((1, 2, 4, 5), 0) if tagged else ((1, 2, 4), 0)
    return paged(page, "models", table(headers, rows, right=(3,), cut=cut))


def aliases_table(page: dict[str, Any], history: bool = False) -> RenderableType:
    """A model's aliases (alias, version, model id, moved at, by), or with ``history``
    their moves, newest first (alias, from, to, by, at)."""
    items = page.get("items") or []
    if history:
        rows = [
            [
                h.get("alias") or "-",
                "-" if h.get("from_version") is None else f"v{h['from_version']}",
                "-" if h.get("to_version") is None else f"v{h['to_version']}",
                str(h.get("by") or "-"),
                when(h.get("at")),
            ]
            for h in items
        ]
        grid = table(["alias", "from", "to", "by", "at"], rows, cut=(3, 0))
        return paged(page, "moves", grid)
    rows = [
        [
            a.get("alias") or "-",
            f"v{a.get('version')}",
            str(a.get("model_id") or "-"),
            when(a.get("updated_at")),
            str(a.get("updated_by") or "-"),
        ]
        for a in items
    ]
    grid = table(["alias", "version", "model id", "moved", "by"], rows, cut=(4, 0))
    return paged(page, "aliases", grid)


# datasets and algorithms


def datasets_table(page: dict[str, Any]) -> RenderableType:
    """A page of datasets: name, version (of how many), task, target, rows, features,
    created, description."""
    rows = []
    for d in page.get("items") or []:
        versions = d.get("versions")
        rows.append(
            [
                d.get("name") or "-",
                f"v{d.get('version')}" + (f"/{versions}" if versions else ""),
                d.get("task") or "-",
                d.get("target") or "-",
                str(d.get("n_samples", "-")),
                str(d.get("n_features", "-")),
                when(d.get("created_at"))[:10],
                one_line(d.get("description") or ""),
            ]
        )
    headers = ["dataset", "version", "task", "target", "rows", "features", "created",
               "description"]  # fmt: skip
    return paged(page, "datasets", table(headers, rows, right=(4, 5), cut=(7, (3, 0))))


def algorithms_table(answer: dict[str, Any]) -> RenderableType:
    """Every algorithm: name, tasks, hyperparameters."""
    items = answer.get("items") or []
    if not items:
        return Text("(no algorithms)")
    rows = [
        [
            a.get("name") or "-",
            ", ".join(a.get("tasks") or []),
            ", ".join(a.get("hyperparameters") or {}),
        ]
        for a in items
    ]
    return table(["algorithm", "tasks", "hyperparameters"], rows)


def hyperparameters_table(algorithm: dict[str, Any]) -> FitTable:
    """An algorithm's hyperparameters: name, type, default, constraints, fleet maximum."""
    rows = [
        [
            name,
            " | ".join(spec.get("type") or []) or "-",
            "-" if "default" not in spec else shown(spec["default"]),
            "; ".join(spec.get("constraints") or []) or "-",
            "-" if spec.get("max") is None else str(spec["max"]),
        ]
        for name, spec in (algorithm.get("hyperparameters") or {}).items()
    ]
    headers = ["hyperparameter", "type", "default", "constraints", "max"]
    return table(headers, rows, right=(4,), cut=(3, (2, 1)))


# searches


def _worker(trial: dict[str, Any]) -> str:
    return clip(str(trial.get("worker") or "-"), WORKER_WIDTH)


def _has_rungs(trials: Sequence[dict[str, Any]]) -> bool:
    return any(t.get("rung") is not None for t in trials)


def _rung(trial: dict[str, Any]) -> list[str]:
    """A halving trial's rung and training rows."""
    rows = trial.get("n_resources")
    return [str(trial.get("rung")), "-" if rows is None else str(rows)]


def leaderboard_table(board: Sequence[dict[str, Any]]) -> RenderableType:
    """A search's leaderboard (best first): rank, trial, (halving: rung and rows,) score ±
    std, fit time, worker, params (cut to fit)."""
    if not board:
        return Text("(no trial has succeeded yet)")
    rungs = _has_rungs(board)
    rows = [
        [
            str(rank),
            str(t["trial"]),
            *(_rung(t) if rungs else []),
            score(t),
            seconds(t.get("fit_time")),
            _worker(t),
            pairs(t.get("params")),
        ]
        for rank, t in enumerate(board, start=1)
    ]
    headers = ["rank", "trial", *(["rung", "rows"] if rungs else []), "score ± std", "fit time",
               "worker", "params"]  # fmt: skip
    return table(headers, rows, right=(0, 1, 2, 3, 4, 5) if rungs else (0, 1, 2, 3))


def trials_table(page: dict[str, Any], sort: str) -> RenderableType:
    """A page of a search's trials: trial, status, score ± std, fit time, worker, params
    (and a failed trial's error), then which of how many trials these are."""
    items = page.get("items") or []
    if not items:
        return Text(f"(no trials on page {page.get('page', 1)}; the search has {page['total']})")
    rungs = _has_rungs(items)
    rows: list[list[Cell]] = []
    for t in items:
        error = t.get("error") or {}
        detail = pairs(t.get("params"))
        if error:
            detail += f"  ! {one_line(str(error.get('message') or error.get('type') or error))}"
        rung = _rung(t) if rungs else []
        fit = seconds(t.get("fit_time"))
        rows.append(
            [str(t["trial"]), status(t.get("status")), *rung, score(t), fit, _worker(t), detail]
        )
    extra = ["rung", "rows"] if rungs else []
    headers = ["trial", "status", *extra, "score ± std", "fit time", "worker", "params"]
    grid = table(headers, rows, right=(0, 2, 3, 4, 5) if extra else (0, 2, 3))
    return paged(page, "trials", grid, f", sorted by {sort}")


def searches_table(page: dict[str, Any]) -> RenderableType:
    """A page of searches: id, status, strategy, trials ended/total, best score, created,
    model name (cut to fit)."""
    rows = [
        [
            s["search_id"],
            status(s.get("status")),
            s.get("strategy") or "-",
            trials_ended(s),
            number((s.get("best") or {}).get("score")),
            when(s.get("created_at"))[:16],
            str(s.get("model_name") or "-"),
        ]
        for s in page.get("items") or []
    ]
    headers = ["search", "status", "strategy", "trials", "best", "created", "model"]
    return paged(page, "searches", table(headers, rows, right=(3, 4)))


# keys and predictions


def keys_table(page: dict[str, Any]) -> RenderableType:
    """A page of API keys: id, name, scopes, created, expires, revoked, created by."""
    rows = [
        [
            str(k.get("id")),
            k.get("name") or "-",
            ", ".join(k.get("scopes") or []),
            when(k.get("created_at"))[:16],
            when(k.get("expires_at"))[:16] if k.get("expires_at") else "never",
            Text(when(k.get("revoked_at"))[:16], style="red") if k.get("revoked_at") else "-",
            str(k.get("created_by") or "-"),
        ]
        for k in page.get("items") or []
    ]
    headers = ["key", "name", "scopes", "created", "expires", "revoked", "created by"]
    return paged(page, "keys", table(headers, rows, cut=((6, 1), 2)))


def predictions_table(answer: dict[str, Any]) -> RenderableType:
    """An online prediction: one line per row (its prediction, and with probabilities one
    column per class), then which model and engine answered."""
    predictions = answer.get("predictions") or []
    classes = answer.get("classes") or []
    probabilities = answer.get("probabilities")
    rows = []
    for i, prediction in enumerate(predictions):
        row: list[Cell] = [str(i), shown(prediction)]
        if probabilities:
            row += [number(p) for p in probabilities[i]]
        rows.append(row)
    headers = ["row", "prediction", *([f"p({c})" for c in classes] if probabilities else [])]
    grid = table(headers, rows, right=(0, *range(2, len(headers))), cut=(1,))
    model = answer.get("model") or {}
    said = f"model {model_ref(model.get('name'), model.get('version'))} (id {model.get('id')})"
    if answer.get("engine"):
        said += f", engine {answer['engine']}"
    return Group(grid, Text(""), Text(said, style="dim"))


METHODS = {"tests": "statistical tests", "distances": "distances"}  # a drift check's method


def drift_table(answer: dict[str, Any]) -> RenderableType:
    """A drift check: one line per feature (type, the test or distance that decided, its
    statistic, p-value or distance, threshold, PSI, verdict), then the dataset's verdict, the
    window and the reference."""
    rows: list[list[Cell]] = []
    for name, feature in (answer.get("features") or {}).items():
        drifted = feature.get("drift")
        verdict = "-" if drifted is None else ("drift" if drifted else "no")
        rows.append(
            [
                name,
                feature.get("type") or "-",
                feature.get("test") or str(feature.get("reason") or "-"),
                number(feature.get("statistic")),
                number(feature.get("p_value", feature.get("distance"))),
                number(feature.get("threshold")),
                number(feature.get("psi")),
                Text(verdict, style="bold red" if drifted else ""),
            ]
        )
    headers = ["feature", "type", "test", "statistic", "p / distance", "threshold", "psi",
               "drift"]  # fmt: skip
    grid = table(headers, rows, right=(3, 4, 5, 6), cut=(0, 2))
    drifted, checked = answer.get("drifted_features", 0), answer.get("checked_features", 0)
    said = "yes" if answer.get("drift") else "no"
    summary = Text(
        f"drift: {said} ({drifted} of {checked} features drifted;"
        f" the dataset drifts from a share of {answer.get('drift_share', 0.5):g})",
        style="bold red" if answer.get("drift") else "bold",
    )
    window, reference = answer.get("window") or {}, answer.get("reference") or {}
    rows_seen = f"{window.get('rows', 0)} logged rows"
    if window.get("truncated"):
        rows_seen += f" (the newest {window.get('max_rows')})"
    model = answer.get("model") or {}
    lines = [
        f"model {model_ref(model.get('name'), model.get('version'))},"
        f" {METHODS.get(str(answer.get('method')), '-')} on {rows_seen}"
        f" from {when(window.get('since'))} to {when(window.get('until'))}",
        f"reference: {dataset_ref(reference.get('dataset'), reference.get('version'))},"
        f" {reference.get('rows', '-')} rows ({reference.get('split', '-')})",
    ]
    return Group(grid, Text(""), summary, *(Text(line, style="dim") for line in lines))
