"""Jobs: ``submit`` (training), ``jobs`` (list), ``status``, ``cancel``, and batch
predictions (``predict-batch``, ``output``)."""

from __future__ import annotations

import sys
from typing import Any

import click

from tensorfleet.cli.common import (
    EXIT_JOB_FAILED,
    State,
    json_option,
    note,
    page_options,
    params_option,
    pass_state,
)
from tensorfleet.cli.progress import wait_for_job
from tensorfleet.statuses import FAILED, FINISHED, STATUSES
from tensorfleet.tables import jobs_table
from tensorfleet.views import job_view

_WAIT = click.option("--wait/--no-wait", default=False, help="Wait for the job to end.")
_TIMEOUT = click.option(
    "--timeout", default=600.0, show_default=True, help="Seconds to wait at most."
)


def _finish(state: State, job: dict[str, Any], waited: bool, timeout: float) -> None:
    """Print the job; exit 1 if it failed or was cancelled, or still runs after --wait."""
    state.emit(job, job_view)
    if job["status"] in FAILED:
        sys.exit(EXIT_JOB_FAILED)
    if waited and job["status"] not in FINISHED:
        note(f"job {job['job_id']} still {job['status']} after {timeout:g} s")
        sys.exit(EXIT_JOB_FAILED)


@click.command()
@click.argument("dataset")
@click.argument("algorithm")
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    callback=params_option,
    metavar="NAME=VALUE",
    help="A hyperparameter: 200, 0.1, None, true, [1, 2] or text (gini).",
)
@click.option("--model-name", help="Default: <dataset>_<algorithm>.")
@click.option("--dataset-version", type=click.IntRange(min=1), help="Default: the latest.")
@click.option("--target", help="The column to predict (default: the dataset's target).")
@click.option("--test-size", type=click.FloatRange(0, 1, min_open=True, max_open=True))
@click.option("--random-state", type=click.IntRange(min=0))
@_WAIT
@_TIMEOUT
@json_option
@pass_state
def submit(
    state: State,
    dataset: str,
    algorithm: str,
    params: dict[str, Any],
    model_name: str | None,
    dataset_version: int | None,
    target: str | None,
    test_size: float | None,
    random_state: int | None,
    wait: bool,
    timeout: float,
) -> None:
    """Submit a training job of ALGORITHM on DATASET (with --wait: a progress bar, then the
    finished job)."""
    given = {
        "model_name": model_name,
        "dataset_version": dataset_version,
        "target": target,
        "test_size": test_size,
        "random_state": random_state,
    }
    options = {key: value for key, value in given.items() if value is not None}
    job = state.client.submit_job(dataset, algorithm, hyperparameters=params, **options)
    note(f"queued {job['job_id']}")
    if wait:
        job = wait_for_job(state.client, job["job_id"], timeout)
    _finish(state, job, wait, timeout)


@click.command()
@click.option("--status", type=click.Choice(STATUSES))
@click.option("--kind", type=click.Choice(["train", "predict", "trial"]))
@click.option("--model-name")
@click.option("--dataset")
@click.option("--algorithm")
@click.option("--search-id", help="A search's trials and refit.")
@page_options
@json_option
@pass_state
def jobs(state: State, **filters: Any) -> None:
    """List jobs, newest first."""
    state.emit(state.client.list_jobs(**filters), jobs_table)


@click.command()
@click.argument("job_id")
@click.option("--wait", "wait", type=click.FloatRange(0, 300), help="Hold until it ends (s).")
@json_option
@pass_state
def status(state: State, job_id: str, wait: float | None) -> None:
    """Show one job."""
    state.emit(state.client.get_job(job_id, wait=wait or 0), job_view)


@click.command()
@click.argument("job_id")
@json_option
@pass_state
def cancel(state: State, job_id: str) -> None:
    """Cancel a queued or running job."""
    state.emit(state.client.cancel_job(job_id), job_view)


@click.command("predict-batch")
@click.argument("model")
@click.argument("dataset")
@click.option("--dataset-version", type=click.IntRange(min=1), help="Default: the latest.")
@click.option("--proba", is_flag=True, help="Add class probabilities (classifiers).")
@_WAIT
@_TIMEOUT
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    help="Save the predictions CSV here (a file or a directory); implies --wait.",
)
@json_option
@pass_state
def predict_batch(
    state: State,
    model: str,
    dataset: str,
    dataset_version: int | None,
    proba: bool,
    wait: bool,
    timeout: float,
    output: str | None,
) -> None:
    """Predict every row of DATASET with MODEL in a background job (e.g. iris_rf@champion)."""
    job = state.client.submit_prediction_job(model, dataset, dataset_version, proba=proba)
    note(f"queued {job['job_id']}")
    waited = wait or bool(output)
    if waited:
        job = wait_for_job(state.client, job["job_id"], timeout, label="predicting")
    _finish(state, job, waited, timeout)
    if output:
        note(str(state.client.download_output(job["job_id"], output)))


@click.command()
@click.argument("job_id")
@click.argument("path", type=click.Path())
@json_option
@pass_state
def output(state: State, job_id: str, path: str) -> None:
    """Download the predictions CSV of a finished batch prediction job (SHA-256 checked)."""
    state.emit_path(state.client.download_output(job_id, path))
