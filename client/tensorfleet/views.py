"""One thing at a time, for people: a job, a model, a dataset, an algorithm, a key, an
alias, the statistics, a search (its summary, progress and leaderboard). Each view is a
few ``label  value`` lines (``rich``); the tables of lists are in :mod:`tensorfleet.tables`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tensorfleet.formatting import (
    clip,
    dataset_ref,
    ended,
    model_ref,
    number,
    one_line,
    pairs,
    score,
    size,
    status,
    took,
    trials_ended,
    when,
)
from tensorfleet.statuses import FINISHED
from tensorfleet.tables import TABLE_WIDTH, hyperparameters_table, leaderboard_table, table

Line = tuple[str, str | Text | None]
HEADLINE = {"classification": "test_accuracy", "regression": "r2"}


def details(lines: Iterable[Line]) -> Table:
    """``label  value`` lines (labels bold; lines whose value is None are left out)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, shown in lines:
        if shown is not None:
            grid.add_row(label, shown if isinstance(shown, Text) else Text(str(shown)))
    return grid


def _metrics(metrics: dict[str, Any] | None) -> str | None:
    """The scalar metrics as ``name=value`` (4 decimals), None if there are none."""
    scalars = {
        k: number(v)
        for k, v in (metrics or {}).items()
        if isinstance(v, int | float) and not isinstance(v, bool) and k not in ("n_train", "n_test")
    }
    return ", ".join(f"{k}={v}" for k, v in scalars.items()) or None


def _error(error: Any) -> str | None:
    if not error:
        return None
    if isinstance(error, dict):
        kind, message = error.get("type") or error.get("code"), error.get("message")
        return one_line(f"{kind}: {message}" if kind and message else message or kind or error)
    return one_line(error)


def _times(thing: dict[str, Any]) -> str:
    said = f"created {when(thing.get('created_at'))}"
    if thing.get("started_at"):
        said += f", started {when(thing['started_at'])}"
    if thing.get("finished_at"):
        said += f", ended {when(thing['finished_at'])}{took(thing)}"
    return said


def job_view(job: dict[str, Any]) -> RenderableType:
    """A job: id and kind, status and stage, what it trains (or predicts) on, its model,
    metrics or rows, error, worker and attempts, times."""
    progress = job.get("progress") or {}
    state = status(job.get("status"))
    if job.get("status") not in FINISHED and progress.get("stage"):
        state.append(f"  {progress['stage']} {progress.get('percent') or 0}%")
    result = job.get("result") or {}
    kind = job.get("kind") or "train"
    dataset = dataset_ref(job.get("dataset"), job.get("dataset_version"))
    if job.get("target"):
        dataset += f", target {job['target']}" + (f" ({job['task']})" if job.get("task") else "")
    if kind == "predict":
        pinned = job.get("model") or {}
        model = model_ref(pinned.get("name"), pinned.get("version")) if pinned else None
        rows = result.get("rows")
        made = None if rows is None else f"{rows} rows, {result.get('invalid_rows', 0)} invalid"
    else:
        version = result.get("version")
        model = model_ref(job.get("model_name"), version)
        if result.get("model_id"):
            model += f"  (model id {result['model_id']})"
        made = _metrics(result.get("metrics"))
    worker = job.get("worker")
    attempts = job.get("attempts")
    return details(
        [
            ("job", f"{job['job_id']}  ({kind})"),
            ("status", state),
            ("dataset", dataset),
            ("algorithm", job.get("algorithm") if kind != "predict" else None),
            ("params", pairs(job.get("hyperparameters")) or None if kind != "predict" else None),
            ("model", model),
            ("search", job.get("search_id")),
            ("metrics" if kind != "predict" else "output", made),
            ("error", _error(job.get("error"))),
            ("worker", f"{worker}, attempt {attempts}" if worker else None),
            ("when", _times(job)),
        ]
    )


def model_view(model: dict[str, Any]) -> RenderableType:
    """A model version: reference and id, aliases, algorithm, score, metrics, lineage,
    hyperparameters, tags, description, files, when."""
    task = model.get("task")
    metric = HEADLINE.get(str(task))
    features = model.get("features") or []
    formats = model.get("formats") or {}
    ref = model_ref(model.get("name"), model.get("version"))
    dataset = dataset_ref(model.get("dataset_name"), model.get("dataset_version"))
    files = [
        name + (f" ({info['status']})" if (info or {}).get("status") not in (None, "ok") else "")
        for name, info in ({"joblib": {}} | formats).items()
    ]
    return details(
        [
            ("model", f"{ref}  (model id {model.get('model_id')})"),
            ("aliases", ", ".join(model.get("aliases") or []) or "-"),
            ("algorithm", f"{model.get('algorithm')} ({task})"),
            ("score", f"{number(model.get('score'))}" + (f" ({metric})" if metric else "")),
            ("metrics", _metrics(model.get("metrics"))),
            ("dataset", f"{dataset}, target {model.get('target')}"),
            ("features", f"{len(features)}: {', '.join(features)}" if features else None),
            ("classes", ", ".join(map(str, model.get("classes") or [])) or None),
            ("params", pairs(model.get("hyperparameters")) or None),
            ("tags", pairs(model.get("tags")) or "-"),
            ("description", model.get("description") or None),
            ("files", ", ".join(files) + f"; {size(model.get('size_bytes'))}"),
            ("sha256", model.get("sha256")),
            ("job", model.get("job_id")),
            ("created", when(model.get("created_at"))),
        ]
    )


def dataset_view(dataset: dict[str, Any]) -> RenderableType:
    """A dataset version: name and version, task and target, shape, features, classes,
    what each other column would imply as a target, source, file, when."""
    features = dataset.get("features") or []
    targets = dataset.get("targets") or {}
    others = [
        f"{column} ({info.get('task')})"
        for column, info in targets.items()
        if column != dataset.get("target")
    ]
    name = dataset_ref(dataset.get("name"), dataset.get("version"))
    if dataset.get("versions"):
        name += f" (of {dataset['versions']})"
    return details(
        [
            ("dataset", name),
            ("task", f"{dataset.get('task')}, target {dataset.get('target')}"),
            ("shape", f"{dataset.get('n_samples')} rows, {dataset.get('n_features')} features"),
            ("features", ", ".join(features) or None),
            ("classes", ", ".join(map(str, dataset.get("classes") or [])) or None),
            ("targets", ", ".join(others) or None),
            ("description", dataset.get("description") or None),
            ("source", dataset.get("source") or "upload"),
            ("file", f"{size(dataset.get('size_bytes'))}, sha256 {dataset.get('sha256')}"),
            ("created", when(dataset.get("created_at"))),
        ]
    )


def algorithm_view(algorithm: dict[str, Any]) -> RenderableType:
    """An algorithm: its tasks and estimator classes, fixed values, then its
    hyperparameters' table."""
    estimators = algorithm.get("estimator") or {}
    head = details(
        [
            ("algorithm", algorithm.get("name")),
            ("tasks", ", ".join(algorithm.get("tasks") or [])),
            *((f"{task}", cls) for task, cls in estimators.items()),
            ("fixed", pairs(algorithm.get("fixed")) or None),
        ]
    )
    return Group(head, Text(""), hyperparameters_table(algorithm))


def key_view(key: dict[str, Any]) -> RenderableType:
    """An API key's metadata (and, just created, its secret: shown this once)."""
    secret = key.get("key")
    return details(
        [
            ("key", key.get("id")),
            ("name", key.get("name")),
            ("scopes", ", ".join(key.get("scopes") or [])),
            ("secret", Text(f"{secret}  (shown this once)", style="bold") if secret else None),
            ("created", f"{when(key.get('created_at'))} by {key.get('created_by') or '-'}"),
            ("expires", when(key.get("expires_at")) if key.get("expires_at") else "never"),
            ("revoked", when(key.get("revoked_at")) if key.get("revoked_at") else None),
        ]
    )


def alias_view(alias: dict[str, Any]) -> RenderableType:
    """Where an alias points: ``name@alias → vN (model id …)``, moved when and by whom."""
    line = Text(f"{alias.get('name')}@{alias.get('alias')} → v{alias.get('version')}")
    line.append(f"  (model id {alias.get('model_id')})", style="dim")
    moved = f"moved {when(alias.get('updated_at'))} by {alias.get('updated_by') or '-'}"
    return Group(line, Text(moved, style="dim"))


def statistics_view(stats: dict[str, Any]) -> RenderableType:
    """The registry and the queue at a glance: models by algorithm and dataset, scores per
    task and algorithm, jobs by status."""
    models = stats.get("models") or {}
    jobs = (stats.get("jobs") or {}).get("by_status") or {}
    head = details(
        [
            ("models", str(models.get("total", 0))),
            ("by algorithm", pairs(models.get("by_algorithm")) or "-"),
            ("by dataset", pairs(models.get("by_dataset")) or "-"),
            ("jobs", ", ".join(f"{n} {state}" for state, n in jobs.items()) or "-"),
        ]
    )
    rows = [
        [task, algorithm, s.get("metric") or "-", str(s.get("count", 0)), number(s.get("best")),
         number(s.get("mean"))]
        for task, by_algorithm in (models.get("scores") or {}).items()
        for algorithm, s in by_algorithm.items()
    ]  # fmt: skip
    if not rows:
        return head
    headers = ["task", "algorithm", "metric", "models", "best", "mean"]
    scores = table(headers, rows, right=(3, 4, 5), cut=(1,))
    return Group(head, Text(""), scores)


# searches


def search_summary(search: dict[str, Any], width: int = TABLE_WIDTH) -> list[str]:
    """A search in a few ``label  value`` lines: status, what it searches, its trials, the
    best trial, the registered model, an error, when (each cut to ``width``)."""
    progress = search.get("progress") or {}
    cv = search.get("cv")
    how = "the hold-out split" if cv == 0 else f"{cv}-fold CV" if cv else "CV"
    version = f" v{search['dataset_version']}" if search.get("dataset_version") else ""
    counts = ", ".join(
        f"{progress.get(state, 0)} {state}"
        for state in ("succeeded", "failed", "cancelled", "running", "queued")
        if progress.get(state) or state in FINISHED
    )
    lines = [
        f"search   {search['search_id']}  {search['status']}",
        f"what     {search.get('strategy')} search of {search.get('algorithm')} on "
        f"{search.get('dataset')}{version}, ranked by {search.get('metric')} ({how})",
        f"trials   {trials_ended(search)} ended: {counts}",
    ]
    best = search.get("best")
    if best:
        lines.append(f"best     trial {best['trial']}: {score(best)}  {pairs(best['params'])}")
    name = search.get("model_name")
    if best and best.get("version") is not None:
        model = f"model    {name}@v{best['version']}  (model id {best.get('model_id')})"
        if search.get("promoted"):
            model += f", promoted to {name}@{search['promoted']}"
        elif search.get("promote") and search["status"] == "succeeded":
            model += f", not promoted to @{search['promote']} (refused)"
        lines.append(model)
    elif search["status"] == "running":
        promote = f", then moved to @{search['promote']}" if search.get("promote") else ""
        lines.append(f"model    {name}: the best is registered when the trials end{promote}")
    else:
        lines.append(f"model    {name}: none registered")
    error = search.get("error")
    if error:
        message = error.get("message") if isinstance(error, dict) else error
        lines.append(f"error    {one_line(str(message))}")
    started = f"started  {when(search.get('started_at'))}"
    if search.get("finished_at"):
        started += f", ended {when(search['finished_at'])}{took(search)}"
    lines.append(started)
    return [clip(line, width) for line in lines]


def search_view(
    search: dict[str, Any], leaderboard: bool = True, width: int = TABLE_WIDTH
) -> RenderableType:
    """:func:`search_summary`, then (with ``leaderboard``) the leaderboard table and a note
    when more trials succeeded than it shows."""
    parts: list[RenderableType] = [Text(line) for line in search_summary(search, width)]
    if leaderboard:
        board = search.get("leaderboard") or []
        parts += [Text(""), leaderboard_table(board)]
        succeeded = (search.get("progress") or {}).get("succeeded", 0)
        if succeeded > len(board):
            parts.append(
                Text(
                    f"(the best {len(board)} of {succeeded} succeeded trials; every trial:"
                    f" search trials {search['search_id']})"
                )
            )
    return Group(*parts)


def progress_detail(search: dict[str, Any]) -> str:
    """The running, queued, failed and cancelled trials, the state, the best score so far."""
    progress = search.get("progress") or {}
    bits = [
        f"{progress[state]} {state}"
        for state in ("running", "queued", "failed", "cancelled")
        if progress.get(state)
    ]
    if search["status"] != "running":
        bits.append(search["status"])
    elif ended(search) >= progress.get("total", 0):
        bits.append("refitting the best")
    best = search.get("best")
    if best and best.get("score") is not None:
        bits.append(f"best {number(best['score'])} (trial {best['trial']})")
    return ", ".join(bits)


def progress_line(search: dict[str, Any]) -> str:
    """How far a search is, on one line: trials ended of the total, then
    :func:`progress_detail`."""
    detail = progress_detail(search)
    return f"search {search['search_id']}: {trials_ended(search)} trials ended" + (
        f"; {detail}" if detail else ""
    )


def job_progress_line(job: dict[str, Any]) -> str:
    """How far a job is, on one line: ``job ID: running, fitting (40%)``."""
    progress = job.get("progress") or {}
    stage = progress.get("stage")
    line = f"job {job['job_id']}: {job.get('status')}"
    if stage and stage != job.get("status"):
        line += f", {stage}"
    return line + f" ({progress.get('percent') or 0}%)"
