"""``python -m app.cli``: train, register, serve and fetch models from the command line.

python -m app.cli submit iris random_forest -p n_estimators=50 --model-name iris_rf --wait
python -m app.cli status <job_id>
python -m app.cli models --name iris_rf --alias champion --tag team=risk
python -m app.cli models show iris_rf@champion
python -m app.cli models tag iris_rf@v1 team=risk tier=gold --description "baseline"
python -m app.cli alias set iris_rf champion 2 --gate-metric f1_macro --min-delta 0.01
python -m app.cli alias ls iris_rf --history
python -m app.cli alias rm iris_rf staging
python -m app.cli predict iris_rf@champion --json rows.json --proba    # or --csv rows.csv
python -m app.cli predict-batch iris_rf@champion iris --wait --output predictions.csv
python -m app.cli download iris_rf@champion model.joblib              # or --format onnx
python -m app.cli search start iris knn --strategy grid --space '{"n_neighbors": [1, 5, 15]}' \
    --cv 3 --trials 3 --parallelism 2 --promote challenger --wait     # or --space @space.json
python -m app.cli search show <search_id>                             # search ls | trials | cancel

A model is named by a reference everywhere: its id, ``<name>@<alias>``,
``<name>@v<version>`` or ``<name>@latest``. Answers are printed as JSON on stdout, but
for the ``search`` commands: a summary and tables at most 100 columns wide (the
terminal's width on a terminal), or with ``--json`` the API's answer as JSON.
Errors are one line on stderr, never a traceback; the exit status tells them apart:
1 a job or a waited-for search failed or was cancelled, or the search still runs at
``--timeout`` (or a local file problem), 2 the API refused (its JSON error body, on one
line; also click's usage errors), 3 a download's checksum or format is not what was
asked (nothing saved), 4 the server cannot be reached, 130 Ctrl-C while waiting for a
search (which goes on).
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, TextIO

import click
import requests

from app.client import APIError, FormatError, IntegrityError, TensorFleetClient, predict_body
from app.statuses import FINISHED

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

EXIT_JOB_FAILED, EXIT_API_ERROR, EXIT_DOWNLOAD_REFUSED, EXIT_UNREACHABLE = 1, 2, 3, 4
EXIT_INTERRUPTED = 130  # Ctrl-C while waiting (what a shell reports for SIGINT)
TABLE_WIDTH = 100  # tables fit this many columns, unless stdout is a wider terminal
WORKER_WIDTH = 24  # a worker's name is cut beyond this
BAR_WIDTH = 30  # characters of a search's progress bar
SEARCH_POLL = 1.0  # seconds between two looks at a search being waited for


def _parse_param(text: str) -> tuple[str, Any]:
    """``name=value`` with the value read as JSON when it parses (numbers, null, true)."""
    name, sep, raw = text.partition("=")
    if not sep:
        raise click.BadParameter(f"expected name=value, got {text!r}")
    try:
        return name, json.loads(raw)
    except json.JSONDecodeError:
        return name, raw


def _parse_tag(text: str) -> tuple[str, str]:
    """``key=value``, the value kept as text (tags are strings)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"expected key=value, got {text!r}")
    return key, value


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _show(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


class _Version(click.ParamType):
    """A model version: ``3`` or ``v3``."""

    name = "version"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        text = str(value)
        digits = text[1:] if text[:1] in ("v", "V") else text
        if not digits.isdigit() or int(digits) < 1:
            self.fail(f"expected a version number such as 3 or v3, got {text!r}", param, ctx)
        return int(digits)


class _Commands(click.Group):
    """The root group: turns the client's errors into one line on stderr and an exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except APIError as exc:
            error = {"code": exc.code, "message": exc.message, "details": exc.details}
            click.echo(json.dumps({"error": error}), err=True)
            ctx.exit(EXIT_API_ERROR)
        except IntegrityError as exc:
            click.echo(f"integrity error: {_one_line(str(exc))}", err=True)
            ctx.exit(EXIT_DOWNLOAD_REFUSED)
        except FormatError as exc:
            click.echo(f"format error: {_one_line(str(exc))}", err=True)
            ctx.exit(EXIT_DOWNLOAD_REFUSED)
        except (requests.ConnectionError, requests.Timeout) as exc:
            click.echo(f"connection error: {_one_line(str(exc))}", err=True)
            ctx.exit(EXIT_UNREACHABLE)
        except requests.RequestException as exc:  # e.g. an answer that is not JSON
            click.echo(f"error: {_one_line(str(exc))}", err=True)
            ctx.exit(EXIT_API_ERROR)
        except OSError as exc:  # a local file: cannot write the download, read the CSV …
            click.echo(f"error: {_one_line(str(exc))}", err=True)
            ctx.exit(EXIT_JOB_FAILED)


@click.group(cls=_Commands)
@click.option(
    "--url",
    envvar="TENSORFLEET_URL",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="API base URL (or $TENSORFLEET_URL).",
)
@click.option(
    "--key",
    envvar="TENSORFLEET_KEY",
    help="API key (or $TENSORFLEET_KEY).",
)
@click.pass_context
def cli(ctx: click.Context, url: str, key: str | None) -> None:
    """TensorFleet: train scikit-learn models on a fleet of workers, register and serve them.

    MODEL references: an id, NAME@ALIAS, NAME@vVERSION or NAME@latest.
    """
    if ctx.obj is None:  # tests may hand in a client of their own
        ctx.obj = TensorFleetClient(url, api_key=key)


# jobs


@cli.command()
@click.argument("dataset")
@click.argument("algorithm")
@click.option("-p", "--param", "params", multiple=True, help="Hyperparameter name=value.")
@click.option("--model-name", help="Default: <dataset>_<algorithm>.")
@click.option("--wait/--no-wait", default=False, help="Wait for the job to end.")
@click.option("--timeout", default=600.0, show_default=True, help="Seconds to wait at most.")
@click.pass_obj
def submit(
    fleet: TensorFleetClient,
    dataset: str,
    algorithm: str,
    params: tuple[str, ...],
    model_name: str | None,
    wait: bool,
    timeout: float,
) -> None:
    """Submit a training job (and optionally wait, with a progress bar)."""
    options: dict[str, Any] = {"hyperparameters": dict(map(_parse_param, params))}
    if model_name:
        options["model_name"] = model_name
    job = fleet.submit_job(dataset, algorithm, **options)
    click.echo(f"queued {job['job_id']}", err=True)
    if wait:
        job = _wait_with_progress(fleet, job["job_id"], timeout)
    _show(job)
    if job["status"] in ("failed", "cancelled"):
        sys.exit(EXIT_JOB_FAILED)


def _wait_with_progress(
    fleet: TensorFleetClient, job_id: str, timeout: float, label: str = "training"
) -> dict[str, Any]:
    with click.progressbar(length=100, label=label, file=sys.stderr) as bar:
        job, shown = fleet.get_job(job_id), 0
        for _ in range(int(timeout)):
            progress = job.get("progress") or {}
            percent = int(progress.get("percent") or 0)
            bar.label = f"{job['status']}: {progress.get('stage', '')}"
            bar.update(percent - shown)
            shown = percent
            if job["status"] in FINISHED:
                break
            job = fleet.get_job(job_id, wait=1)
    return job


@cli.command()
@click.argument("job_id")
@click.pass_obj
def status(fleet: TensorFleetClient, job_id: str) -> None:
    """Show one job."""
    _show(fleet.get_job(job_id))


@cli.command()
@click.argument("job_id")
@click.pass_obj
def cancel(fleet: TensorFleetClient, job_id: str) -> None:
    """Cancel a queued or running job."""
    _show(fleet.cancel_job(job_id))


@cli.command("predict-batch")
@click.argument("model")
@click.argument("dataset")
@click.option("--dataset-version", type=click.IntRange(min=1), help="Default: the latest.")
@click.option("--proba", is_flag=True, help="Add class probabilities (classifiers).")
@click.option("--wait/--no-wait", default=False, help="Wait for the job to end.")
@click.option("--timeout", default=600.0, show_default=True, help="Seconds to wait at most.")
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    help="Save the predictions CSV here (a file or a directory); implies --wait.",
)
@click.pass_obj
def predict_batch(
    fleet: TensorFleetClient,
    model: str,
    dataset: str,
    dataset_version: int | None,
    proba: bool,
    wait: bool,
    timeout: float,
    output: str | None,
) -> None:
    """Predict every row of DATASET with MODEL in a background job (e.g. iris_rf@champion)."""
    job = fleet.submit_prediction_job(model, dataset, dataset_version, proba=proba)
    click.echo(f"queued {job['job_id']}", err=True)
    if wait or output:
        job = _wait_with_progress(fleet, job["job_id"], timeout, label="predicting")
    _show(job)
    if job["status"] in ("failed", "cancelled"):
        sys.exit(EXIT_JOB_FAILED)
    if output and job["status"] == "succeeded":
        click.echo(str(fleet.download_output(job["job_id"], output)), err=True)
    elif output:
        click.echo(f"job {job['job_id']} still {job['status']}: no output yet", err=True)
        sys.exit(EXIT_JOB_FAILED)


@cli.command()
@click.argument("job_id")
@click.argument("path", type=click.Path())
@click.pass_obj
def output(fleet: TensorFleetClient, job_id: str, path: str) -> None:
    """Download the predictions CSV of a finished batch prediction job (SHA-256 checked)."""
    click.echo(str(fleet.download_output(job_id, path)))


# hyperparameter searches


class _JsonObject(click.ParamType):
    """A JSON object, inline or read from ``@FILE`` (``@-``: stdin)."""

    name = "json"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        text = str(value)
        if text.startswith("@"):
            try:
                with click.open_file(text[1:], encoding="utf-8") as handle:
                    text = handle.read()
            except OSError as exc:
                self.fail(f"cannot read {text[1:]!r}: {exc.strerror or exc}", param, ctx)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            self.fail(f"not JSON ({exc})", param, ctx)
        if not isinstance(data, dict):
            self.fail("expected a JSON object, e.g. '{\"n_neighbors\": [1, 5, 15]}'", param, ctx)
        return data


def _table_width() -> int:
    """The width tables fit: the terminal's when stdout is one, else :data:`TABLE_WIDTH`."""
    if sys.stdout.isatty():
        return max(60, shutil.get_terminal_size((TABLE_WIDTH, 24)).columns)
    return TABLE_WIDTH


def _clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, an ellipsis marking the cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    width: int = TABLE_WIDTH,
    right: Iterable[int] = (),
    flex: int = -1,
) -> list[str]:
    """Fixed-width lines: a header, then one line per row, columns two spaces apart
    (those in ``right`` right-aligned). Column ``flex`` gets what the others leave of
    ``width`` (its cells cut to fit, never narrower than its header)."""
    rows = [list(row) for row in rows]
    widths = [max([len(headers[i])] + [len(row[i]) for row in rows]) for i in range(len(headers))]
    flex %= len(headers)
    others = sum(w for i, w in enumerate(widths) if i != flex) + 2 * (len(headers) - 1)
    widths[flex] = max(len(headers[flex]), min(widths[flex], width - others))
    aligned = set(right)
    lines = []
    for row in [list(headers), *rows]:
        cells = [
            _clip(cell, w).rjust(w) if i in aligned else _clip(cell, w).ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:.1f}"


def _score(entry: dict[str, Any]) -> str:
    """``score ± score_std`` of a trial (or of a search's best)."""
    if entry.get("score") is None:
        return "-"
    if entry.get("score_std") is None:
        return _number(entry["score"])
    return f"{_number(entry['score'])} ± {_number(entry['score_std'])}"


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 10:
        return f"{value:.3f} s"
    if value < 100:
        return f"{value:.1f} s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} min {seconds} s" if minutes < 60 else f"{minutes / 60:.1f} h"


def _params(params: dict[str, Any] | None) -> str:
    """``name=value, …`` (strings bare, other values as JSON: null, true, 0.1)."""
    return ", ".join(
        f"{name}={value if isinstance(value, str) else json.dumps(value)}"
        for name, value in (params or {}).items()
    )


def _worker(trial: dict[str, Any]) -> str:
    return _clip(str(trial.get("worker") or "-"), WORKER_WIDTH)


def leaderboard_table(board: Sequence[dict[str, Any]], width: int = TABLE_WIDTH) -> list[str]:
    """The leaderboard (best first) as lines: rank, trial, (halving: rung and rows,) score ±
    std, fit time, worker, params (cut to fit ``width``)."""
    if not board:
        return ["(no trial has succeeded yet)"]
    rungs = _has_rungs(board)
    rows = [
        [
            str(rank),
            str(t["trial"]),
            *(_rung(t) if rungs else []),
            _score(t),
            _seconds(t.get("fit_time")),
            _worker(t),
            _params(t.get("params")),
        ]
        for rank, t in enumerate(board, start=1)
    ]
    headers = ["rank", "trial", *(["rung", "rows"] if rungs else []), "score ± std", "fit time",
               "worker", "params"]  # fmt: skip
    return _table(headers, rows, width, right=(0, 1, 2, 3, 4, 5) if rungs else (0, 1, 2, 3))


def _has_rungs(trials: Sequence[dict[str, Any]]) -> bool:
    return any(t.get("rung") is not None for t in trials)


def _rung(trial: dict[str, Any]) -> list[str]:
    """A halving trial's rung and training rows."""
    rows = trial.get("n_resources")
    return [str(trial.get("rung")), "-" if rows is None else str(rows)]


def trials_table(page: dict[str, Any], sort: str, width: int = TABLE_WIDTH) -> list[str]:
    """A page of trials as lines: trial, status, score ± std, fit time, worker, params (and
    a failed trial's error), then which of how many trials these are."""
    items, total = page["items"], page["total"]
    if not items:
        return [f"(no trials on page {page['page']}; the search has {total})"]
    rows = []
    for t in items:
        error = t.get("error") or {}
        detail = _params(t.get("params"))
        if error:
            detail += f"  ! {_one_line(str(error.get('message') or error.get('type') or error))}"
        rung = _rung(t) if _has_rungs(items) else []
        rows.append([str(t["trial"]), t["status"], *rung, _score(t),
                     _seconds(t.get("fit_time")), _worker(t), detail])  # fmt: skip
    extra = ["rung", "rows"] if _has_rungs(items) else []
    headers = ["trial", "status", *extra, "score ± std", "fit time", "worker", "params"]
    lines = _table(headers, rows, width, right=(0, 2, 3, 4, 5) if extra else (0, 2, 3))
    first = (page["page"] - 1) * page["limit"] + 1
    footer = f"trials {first}-{first + len(items) - 1} of {total}, sorted by {sort}"
    if first + len(items) - 1 < total:
        footer += f"; more: --page {page['page'] + 1}"
    return [*lines, "", footer]


def searches_table(page: dict[str, Any], width: int = TABLE_WIDTH) -> list[str]:
    """A page of searches as lines: id, status, strategy, trials ended/total, best score,
    created, model name (cut to fit)."""
    items = page["items"]
    if not items:
        return ["(no searches)"]
    rows = [
        [
            s["search_id"],
            s["status"],
            s.get("strategy") or "-",
            _trials_ended(s),
            _number((s.get("best") or {}).get("score")),
            _when(s.get("created_at"))[:16],
            str(s.get("model_name") or "-"),
        ]
        for s in items
    ]
    headers = ["search", "status", "strategy", "trials", "best", "created", "model"]
    lines = _table(headers, rows, width, right=(3, 4))
    first = (page["page"] - 1) * page["limit"] + 1
    return [*lines, "", f"searches {first}-{first + len(items) - 1} of {page['total']}"]


def _ended(search: dict[str, Any]) -> int:
    progress = search.get("progress") or {}
    return sum(progress.get(status, 0) for status in FINISHED)


def _trials_ended(search: dict[str, Any]) -> str:
    return f"{_ended(search)}/{(search.get('progress') or {}).get('total', 0)}"


def _utc(text: Any) -> datetime | None:
    """An API time (ISO 8601) as an aware datetime, UTC when it names no zone; or None."""
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _when(text: str | None) -> str:
    """An API time as ``2025-06-01 12:00:00`` (UTC)."""
    if not text:
        return "-"
    moment = _utc(text)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment else text


def _took(search: dict[str, Any]) -> str:
    started, finished = _utc(search.get("started_at")), _utc(search.get("finished_at"))
    if started is None or finished is None:
        return ""
    return f" ({_seconds(max((finished - started).total_seconds(), 0.0))})"


def search_summary(search: dict[str, Any], width: int = TABLE_WIDTH) -> list[str]:
    """A search in a few ``label  value`` lines: status, what it searches, its trials, the
    best trial, the registered model, an error, when."""
    progress = search.get("progress") or {}
    cv = search.get("cv")
    how = "the hold-out split" if cv == 0 else f"{cv}-fold CV" if cv else "CV"
    version = f" v{search['dataset_version']}" if search.get("dataset_version") else ""
    counts = ", ".join(
        f"{progress.get(status, 0)} {status}"
        for status in ("succeeded", "failed", "cancelled", "running", "queued")
        if progress.get(status) or status in FINISHED
    )
    lines = [
        f"search   {search['search_id']}  {search['status']}",
        f"what     {search.get('strategy')} search of {search.get('algorithm')} on "
        f"{search.get('dataset')}{version}, ranked by {search.get('metric')} ({how})",
        f"trials   {_trials_ended(search)} ended: {counts}",
    ]
    best = search.get("best")
    if best:
        lines.append(f"best     trial {best['trial']}: {_score(best)}  {_params(best['params'])}")
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
        lines.append(f"error    {_one_line(str(message))}")
    when = f"started  {_when(search.get('started_at'))}"
    if search.get("finished_at"):
        when += f", ended {_when(search['finished_at'])}{_took(search)}"
    lines.append(when)
    return [_clip(line, width) for line in lines]


def _print_search(search: dict[str, Any], leaderboard: bool = True) -> None:
    width = _table_width()
    lines = search_summary(search, width)
    if leaderboard:
        board = search.get("leaderboard") or []
        lines += ["", *leaderboard_table(board, width)]
        succeeded = (search.get("progress") or {}).get("succeeded", 0)
        if succeeded > len(board):
            lines.append(
                f"(the best {len(board)} of {succeeded} succeeded trials; every trial:"
                f" search trials {search['search_id']})"
            )
    click.echo("\n".join(lines))


def progress_line(search: dict[str, Any]) -> str:
    """How far a search is, on one line: trials ended of the total, the running,
    queued, failed and cancelled ones, and the best score so far."""
    return f"search {search['search_id']}: {_trials_ended(search)} trials ended" + (
        f"; {detail}" if (detail := _progress_detail(search)) else ""
    )


def _progress_detail(search: dict[str, Any]) -> str:
    progress = search.get("progress") or {}
    bits = [
        f"{progress[status]} {status}"
        for status in ("running", "queued", "failed", "cancelled")
        if progress.get(status)
    ]
    if search["status"] != "running":
        bits.append(search["status"])
    elif _ended(search) >= progress.get("total", 0):
        bits.append("refitting the best")
    best = search.get("best")
    if best and best.get("score") is not None:
        bits.append(f"best {_number(best['score'])} (trial {best['trial']})")
    return ", ".join(bits)


def _as_shown(detail: str | None) -> str | None:
    return detail


class SearchProgress:
    """``on_progress`` of :meth:`TensorFleetClient.wait_search` for the CLI, used as a context
    manager: on a terminal a bar of the trials ended out of ``total``, redrawn at every
    call; on anything else one :func:`progress_line` each time that line changes."""

    def __init__(self, total: int, file: TextIO, tty: bool | None = None) -> None:
        self.total, self.file = total, file
        self.tty = file.isatty() if tty is None else tty
        self._bar: ProgressBar[str] | None = None
        self._shown, self._last = 0, ""

    def __enter__(self) -> SearchProgress:
        if self.tty:
            self._bar = click.progressbar(
                length=max(self.total, 1),
                label="trials",
                file=self.file,
                show_pos=True,
                show_percent=False,
                width=BAR_WIDTH,
                item_show_func=_as_shown,
            )
            self._bar.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.__exit__(kind, error, traceback)
            self._bar = None

    def __call__(self, search: dict[str, Any]) -> None:
        if self._bar is not None:
            length = max(self.total, 1)
            ended = min(_ended(search), length)
            # what the bar, the counts and the ETA leave of the terminal's width
            room = shutil.get_terminal_size((TABLE_WIDTH, 24)).columns - BAR_WIDTH
            room -= len(f"trials  []  {length}/{length}  00:00:00  ") + 1
            detail = _clip(_progress_detail(search), max(room, 10))
            if ended > self._shown:
                self._bar.update(ended - self._shown, current_item=detail)
            else:  # update() draws only when the bar moves
                self._bar.current_item = detail
                self._bar.render_progress()
            self._shown = ended
            return
        line = progress_line(search)
        if line != self._last:
            click.echo(line, file=self.file)
            self._last = line


def _wait_for_search(fleet: TensorFleetClient, search: dict[str, Any], timeout: float) -> dict:
    """Wait for a search with a :class:`SearchProgress` on stderr; Ctrl-C stops waiting only."""
    search_id = search["search_id"]
    total = (search.get("progress") or {}).get("total", 0)
    try:
        with SearchProgress(total, sys.stderr) as progress:
            return fleet.wait_search(search_id, timeout=timeout, poll=SEARCH_POLL,
                                     on_progress=progress)  # fmt: skip
    except KeyboardInterrupt:
        click.echo(
            f"stopped waiting: search {search_id} goes on"
            f" (search show {search_id}; search cancel {search_id} stops it)",
            err=True,
        )
        sys.exit(EXIT_INTERRUPTED)


_JSON_OPTION = click.option(
    "--json", "as_json", is_flag=True, help="Print the API's answer as JSON instead."
)


@cli.group()
def search() -> None:
    """Hyperparameter searches: many trials of one algorithm over a space, spread over the
    workers, scored by k-fold CV; the best is refit and registered as a model version.

    \b
    search start iris knn --strategy grid --space '{"n_neighbors": [1, 5, 15]}' --wait
    search start iris random_forest --space @space.json --trials 20 --promote challenger
    search show ID | search ls --status running | search trials ID | search cancel ID
    """


@search.command("start")
@click.argument("dataset")
@click.argument("algorithm")
@click.option(
    "--space",
    required=True,
    type=_JsonObject(),
    metavar="JSON|@FILE",
    help='Each hyperparameter\'s values [1, 5, 15] or range {"low": 10, "high": 200,'
    ' "log": true, "type": "int"}.',
)
@click.option(
    "--strategy",
    type=click.Choice(["grid", "random", "halving", "bayesian"]),
    default="random",
    show_default=True,
    help="grid: every combination (lists only); random: --trials random draws; halving:"
    " --trials draws, the best 1/--factor of each rung going on with --factor times the rows;"
    " bayesian: --trials candidates asked of Optuna's TPE one at a time.",
)
@click.option(
    "--factor",
    type=click.FloatRange(min=1.2, max=10),
    help="halving: the share of candidates each rung keeps is 1/factor (default 3).",
)
@click.option(
    "--min-resources",
    metavar="N|exhaust",
    help="halving: training rows of the first rung (default exhaust: the last rung sees all).",
)
@click.option(
    "--keep",
    type=click.Choice(["best", "all"]),
    help="Register the best model only (default) or every trial's trained on all rows.",
)
@click.option(
    "--fixed", type=_JsonObject(), metavar="JSON|@FILE", help="Hyperparameters of every trial."
)
@click.option("--metric", help="The metric trials are ranked by (default: the task's headline).")
@click.option("--cv", type=click.IntRange(min=0), help="Folds (default 5; 0: the hold-out split).")
@click.option("--trials", type=click.IntRange(min=1), help="Trials at most (default 20).")
@click.option("--parallelism", type=click.IntRange(min=1), help="Trials at once (default 4).")
@click.option(
    "--max-seconds",
    type=click.FloatRange(min=0, min_open=True),
    help="A time limit; then it ends with the best so far (default 3600).",
)
@click.option("--model-name", help="Default: <dataset>_<algorithm>.")
@click.option("--promote", metavar="ALIAS", help="Move this alias to the best version.")
@click.option("--dataset-version", type=click.IntRange(min=1), help="Default: the latest.")
@click.option("--random-state", type=click.IntRange(min=0), help="Seed (default 42).")
@click.option("--wait/--no-wait", default=False, help="Wait for the search to end.")
@click.option("--timeout", default=3600.0, show_default=True, help="Seconds to wait at most.")
@_JSON_OPTION
@click.pass_obj
def search_start(
    fleet: TensorFleetClient,
    dataset: str,
    algorithm: str,
    space: dict[str, Any],
    strategy: str,
    factor: float | None,
    min_resources: str | None,
    keep: str | None,
    fixed: dict[str, Any] | None,
    metric: str | None,
    cv: int | None,
    trials: int | None,
    parallelism: int | None,
    max_seconds: float | None,
    model_name: str | None,
    promote: str | None,
    dataset_version: int | None,
    random_state: int | None,
    wait: bool,
    timeout: float,
    as_json: bool,
) -> None:
    """Start a search of ALGORITHM on DATASET; with --wait, show its progress, then the
    leaderboard and the registered model."""
    given = {
        "fixed": fixed,
        "metric": metric,
        "cv": cv,
        "model_name": model_name,
        "promote": promote,
        "dataset_version": dataset_version,
        "random_state": random_state,
        "keep": keep,
    }
    options = {key: value for key, value in given.items() if value is not None}
    halving = {"factor": factor, "min_resources": _min_resources(min_resources)}
    if halving := {key: value for key, value in halving.items() if value is not None}:
        options["halving"] = halving
    limits = {"trials": trials, "parallelism": parallelism, "max_seconds": max_seconds}
    if budget := {key: value for key, value in limits.items() if value is not None}:
        options["budget"] = budget
    found = fleet.submit_search(dataset, algorithm, space, strategy=strategy, **options)
    total = (found.get("progress") or {}).get("total")
    click.echo(f"started search {found['search_id']}: {total} trials", err=True)
    if wait:
        found = _wait_for_search(fleet, found, timeout)
    if as_json:
        _show(found)
    else:
        _print_search(found, leaderboard=wait)
    _exit_unless_ended_well(found, waited=wait, timeout=timeout)


def _min_resources(value: str | None) -> int | str | None:
    """``--min-resources``: a number of rows, or ``exhaust``."""
    if value is None or value == "exhaust":
        return value
    if not value.isdigit():
        raise click.BadParameter("a number of rows or 'exhaust'", param_hint="--min-resources")
    return int(value)


def _exit_unless_ended_well(search: dict[str, Any], waited: bool, timeout: float) -> None:
    status, search_id = search["status"], search["search_id"]
    if status in ("failed", "cancelled"):
        error = search.get("error") or {}
        reason = f": {_one_line(error.get('message', ''))}" if error.get("message") else ""
        click.echo(f"search {search_id} {status}{reason}", err=True)
        sys.exit(EXIT_JOB_FAILED)
    if waited and status == "running":
        click.echo(
            f"search {search_id} still running after {timeout:g} s (search show {search_id})",
            err=True,
        )
        sys.exit(EXIT_JOB_FAILED)


@search.command("show")
@click.argument("search_id")
@_JSON_OPTION
@click.pass_obj
def search_show(fleet: TensorFleetClient, search_id: str, as_json: bool) -> None:
    """Show a search: status, progress, best trial, registered model, leaderboard."""
    found = fleet.get_search(search_id)
    if as_json:
        _show(found)
    else:
        _print_search(found)


@search.command("ls")
@click.option("--status", type=click.Choice(["running", "succeeded", "failed", "cancelled"]))
@click.option("--model-name")
@click.option("--dataset")
@click.option("--strategy", type=click.Choice(["grid", "random", "halving", "bayesian"]))
@click.option("--page", type=click.IntRange(min=1), help="Default: 1.")
@click.option("--limit", type=click.IntRange(min=1))
@_JSON_OPTION
@click.pass_obj
def search_ls(fleet: TensorFleetClient, as_json: bool, **filters: Any) -> None:
    """List searches, newest first."""
    page = fleet.list_searches(**filters)
    if as_json:
        _show(page)
    else:
        click.echo("\n".join(searches_table(page, _table_width())))


@search.command("trials")
@click.argument("search_id")
@click.option(
    "--sort",
    type=click.Choice(["-score", "score", "trial", "-trial", "fit_time", "-fit_time"]),
    default="-score",
    show_default=True,
    help="-score: best first.",
)
@click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--limit", type=click.IntRange(min=1, max=100), default=20, show_default=True)
@_JSON_OPTION
@click.pass_obj
def search_trials(
    fleet: TensorFleetClient, search_id: str, sort: str, page: int, limit: int, as_json: bool
) -> None:
    """List a search's trials: params, score ± std over the folds, fit time, worker."""
    found = fleet.search_trials(search_id, sort=sort, page=page, limit=limit)
    if as_json:
        _show(found)
    else:
        click.echo("\n".join(trials_table(found, sort, _table_width())))


@search.command("cancel")
@click.argument("search_id")
@_JSON_OPTION
@click.pass_obj
def search_cancel(fleet: TensorFleetClient, search_id: str, as_json: bool) -> None:
    """Cancel a running search (its queued and running trials; finished ones are kept)."""
    found = fleet.cancel_search(search_id)
    if as_json:
        _show(found)
    else:
        _print_search(found, leaderboard=False)


# the model registry


@cli.group(invoke_without_command=True)
@click.option("--name")
@click.option("--algorithm")
@click.option("--dataset")
@click.option("--alias", help="Only the versions this alias points at.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Only with this tag.")
@click.option("--min-score", type=float)
@click.option("--created-after", metavar="ISO-TIME")
@click.option("--created-before", metavar="ISO-TIME")
@click.option("--sort", help="-created_at (default), created_at, -score, score, name, -version.")
@click.option("--page", type=click.IntRange(min=1), help="Default: 1.")
@click.option("--limit", type=click.IntRange(min=1))
@click.pass_context
def models(ctx: click.Context, tags: tuple[str, ...], **filters: Any) -> None:
    """List models, newest first (with filters), or show, tag or delete one.

    \b
    models --name iris_rf --alias champion --tag team=risk --min-score 0.9
    models show REF | models tag REF KEY=VALUE... | models rm REF
    """
    given = {k: v for k, v in filters.items() if v is not None}
    if ctx.invoked_subcommand is not None:
        if given or tags:
            raise click.UsageError("list filters go without a subcommand: models --name X")
        return
    fleet: TensorFleetClient = ctx.obj
    _show(fleet.list_models(tags=dict(map(_parse_tag, tags)), **given))


@models.command("show")
@click.argument("ref")
@click.pass_obj
def models_show(fleet: TensorFleetClient, ref: str) -> None:
    """Show one model version: metrics, lineage, aliases, tags."""
    _show(fleet.get_model(ref))


@models.command("tag")
@click.argument("ref")
@click.argument("tags", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--remove", "removed", multiple=True, metavar="KEY", help="Remove this tag.")
@click.option("--description", help="Set the description.")
@click.pass_obj
def models_tag(
    fleet: TensorFleetClient,
    ref: str,
    tags: tuple[str, ...],
    removed: tuple[str, ...],
    description: str | None,
) -> None:
    """Set tags (merged into the model's), remove tags, or set the description."""
    changes: dict[str, str | None] = dict(map(_parse_tag, tags))
    changes.update(dict.fromkeys(removed))
    if not changes and description is None:
        raise click.UsageError("give KEY=VALUE tags, --remove KEY or --description")
    _show(fleet.update_model(ref, tags=changes or None, description=description))


@models.command("rm")
@click.argument("ref")
@click.pass_obj
def models_rm(fleet: TensorFleetClient, ref: str) -> None:
    """Delete a model version (admin key); refused while an alias points at it."""
    fleet.delete_model(ref)
    click.echo(f"deleted {ref}", err=True)


@cli.group()
def alias() -> None:
    """Move, remove and list a model's aliases (NAME@ALIAS → a version)."""


@alias.command("set")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@click.argument("version", type=_Version())
@click.option("--gate-metric", help="Refuse a version that scores less on this metric.")
@click.option(
    "--min-delta",
    type=float,
    help="With --gate-metric: the least gain over the current version (default 0).",
)
@click.pass_obj
def alias_set(
    fleet: TensorFleetClient,
    name: str,
    alias_name: str,
    version: int,
    gate_metric: str | None,
    min_delta: float | None,
) -> None:
    """Point NAME@ALIAS at VERSION (3 or v3), creating the alias if need be."""
    if min_delta is not None and gate_metric is None:
        raise click.UsageError("--min-delta needs --gate-metric")
    _show(fleet.set_alias(name, alias_name, version, gate=gate_metric, min_delta=min_delta or 0.0))


@alias.command("rm")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@click.pass_obj
def alias_rm(fleet: TensorFleetClient, name: str, alias_name: str) -> None:
    """Remove NAME@ALIAS (the versions stay)."""
    fleet.remove_alias(name, alias_name)
    click.echo(f"removed {name}@{alias_name}", err=True)


@alias.command("ls")
@click.argument("name")
@click.option("--history", is_flag=True, help="Every move, newest first.")
@click.option("--page", type=click.IntRange(min=1))
@click.option("--limit", type=click.IntRange(min=1))
@click.pass_obj
def alias_ls(
    fleet: TensorFleetClient, name: str, history: bool, page: int | None, limit: int | None
) -> None:
    """List the aliases of model NAME, or their history."""
    _show(fleet.list_aliases(name, history=history, page=page, limit=limit))


# predictions and downloads


@cli.command()
@click.argument("ref")
@click.option(
    "--json",
    "json_file",
    type=click.File("r"),
    metavar="FILE|-",
    help="A JSON list of rows ({column: value}) or an MLflow scoring body.",
)
@click.option("--csv", "csv_file", type=click.File("rb"), metavar="FILE|-", help="A CSV file.")
@click.option("--proba", is_flag=True, help="Add class probabilities (classifiers).")
@click.option("--engine", type=click.Choice(["sklearn", "onnx"]), help="The runtime.")
@click.pass_obj
def predict(
    fleet: TensorFleetClient,
    ref: str,
    json_file: IO[str] | None,
    csv_file: IO[bytes] | None,
    proba: bool,
    engine: str | None,
) -> None:
    """Predict rows online with model REF (e.g. iris_rf@champion)."""
    if (json_file is None) == (csv_file is None):
        raise click.UsageError("give exactly one of --json FILE and --csv FILE ('-': stdin)")
    if csv_file is not None:
        _show(fleet.predict_csv(ref, csv_file.read(), proba=proba, engine=engine))
        return
    assert json_file is not None
    try:
        rows = json.load(json_file)
    except json.JSONDecodeError as exc:
        raise click.UsageError(f"--json: not JSON ({exc})") from None
    try:
        body = predict_body(rows)
    except (TypeError, ValueError) as exc:
        raise click.UsageError(f"--json: {exc}") from None
    _show(fleet.predict(ref, body, proba=proba, engine=engine))


@cli.command()
@click.argument("ref")
@click.argument("path", required=False, type=click.Path())
@click.option("-o", "--output", type=click.Path(), help="Same as PATH.")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["joblib", "onnx"]),
    default="joblib",
    show_default=True,
)
@click.pass_obj
def download(
    fleet: TensorFleetClient, ref: str, path: str | None, output: str | None, file_format: str
) -> None:
    """Download model REF's file to PATH (a file or a directory), SHA-256 checked."""
    if (path is None) == (output is None):
        raise click.UsageError("give PATH (or -o PATH), once")
    target = path or output
    assert target is not None
    click.echo(str(fleet.download_model(ref, target, format=file_format)))


@cli.command()
@click.argument("csv_path", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", required=True)
@click.option("--target", required=True)
@click.option("--description", default="")
@click.pass_obj
def upload(
    fleet: TensorFleetClient, csv_path: str, name: str, target: str, description: str
) -> None:
    """Upload a CSV dataset (a new version if the name exists)."""
    _show(fleet.upload_dataset(csv_path, name, target, description))


def main() -> None:
    """Entry point (``python -m app.cli``); errors: see the module's docstring."""
    cli()


if __name__ == "__main__":
    main()
