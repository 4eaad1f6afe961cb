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

A model is named by a reference everywhere: its id, ``<name>@<alias>``,
``<name>@v<version>`` or ``<name>@latest``. Answers are printed as JSON on stdout.
Errors are one line on stderr, never a traceback; the exit status tells them apart:
1 a job failed or was cancelled (or a local file problem), 2 the API refused (its
JSON error body, on one line; also click's usage errors), 3 a download's checksum or
format is not what was asked (nothing saved), 4 the server cannot be reached.
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any

import click
import requests

from app.client import APIError, FormatError, IntegrityError, TensorFleetClient, predict_body
from app.statuses import FINISHED

EXIT_JOB_FAILED, EXIT_API_ERROR, EXIT_DOWNLOAD_REFUSED, EXIT_UNREACHABLE = 1, 2, 3, 4


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
