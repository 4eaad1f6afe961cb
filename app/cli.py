"""``python -m app.cli``: submit jobs, watch them and fetch models from the command line.

python -m app.cli submit iris random_forest -p n_estimators=50 --wait
python -m app.cli status <job_id>
python -m app.cli models --name iris_random_forest
python -m app.cli download <model_id> -o model.joblib
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from app.client import APIError, IntegrityError, TensorFleetClient
from app.statuses import FINISHED


def _parse_param(text: str) -> tuple[str, Any]:
    """``name=value`` with the value read as JSON when it parses (numbers, null, true)."""
    name, sep, raw = text.partition("=")
    if not sep:
        raise click.BadParameter(f"expected name=value, got {text!r}")
    try:
        return name, json.loads(raw)
    except json.JSONDecodeError:
        return name, raw


def _show(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


@click.group()
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
    """TensorFleet: train scikit-learn models on a fleet of workers."""
    ctx.obj = TensorFleetClient(url, api_key=key)


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
        sys.exit(1)


def _wait_with_progress(fleet: TensorFleetClient, job_id: str, timeout: float) -> dict[str, Any]:
    with click.progressbar(length=100, label="training", file=sys.stderr) as bar:
        job, shown = fleet.get_job(job_id), 0
        for _ in range(int(timeout)):
            percent = job["progress"]["percent"]
            bar.label = f"{job['status']}: {job['progress']['stage']}"
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


@cli.command()
@click.option("--name")
@click.option("--algorithm")
@click.option("--dataset")
@click.option("--page", default=1, show_default=True)
@click.pass_obj
def models(fleet: TensorFleetClient, **filters: Any) -> None:
    """List models, newest first."""
    _show(fleet.list_models(**{k: v for k, v in filters.items() if v is not None}))


@cli.command()
@click.argument("model_id")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.pass_obj
def download(fleet: TensorFleetClient, model_id: str, output: str) -> None:
    """Download a model's joblib file."""
    click.echo(str(fleet.download_model(model_id, output)))


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
    """Entry point; API errors print their JSON body and exit 2."""
    try:
        cli()
    except IntegrityError as exc:
        click.echo(f"integrity error: {exc}", err=True)
        sys.exit(3)
    except APIError as exc:
        click.echo(
            json.dumps(
                {"error": {"code": exc.code, "message": exc.message, "details": exc.details}}
            ),
            err=True,
        )
        sys.exit(2)


if __name__ == "__main__":
    main()
