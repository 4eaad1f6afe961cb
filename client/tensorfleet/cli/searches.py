"""Hyperparameter searches: ``search start|show|ls|trials|cancel``."""

from __future__ import annotations

import sys
from typing import Any

import click

from tensorfleet.cli.common import (
    EXIT_JOB_FAILED,
    JsonObject,
    State,
    json_option,
    note,
    pass_state,
)
from tensorfleet.cli.progress import wait_for_search
from tensorfleet.formatting import one_line
from tensorfleet.statuses import FAILED
from tensorfleet.tables import searches_table, trials_table
from tensorfleet.views import search_view

STRATEGIES = ["grid", "random", "halving", "bayesian"]


@click.group()
def search() -> None:
    """Hyperparameter searches: many trials of one algorithm over a space, spread over the
    workers, scored by k-fold CV; the best is refit and registered as a model version.

    \b
    search start iris knn --strategy grid --space '{"n_neighbors": [1, 5, 15]}' --wait
    search start iris random_forest --space @space.json --trials 20 --promote challenger
    search show ID | search ls --status running | search trials ID | search cancel ID
    """


def _min_resources(value: str | None) -> int | str | None:
    """``--min-resources``: a number of rows, or ``exhaust``."""
    if value is None or value == "exhaust":
        return value
    if not value.isdigit():
        raise click.BadParameter("a number of rows or 'exhaust'", param_hint="--min-resources")
    return int(value)


def _exit_unless_ended_well(search: dict[str, Any], waited: bool, timeout: float) -> None:
    status, search_id = search["status"], search["search_id"]
    if status in FAILED:
        error = search.get("error") or {}
        reason = f": {one_line(error.get('message', ''))}" if error.get("message") else ""
        note(f"search {search_id} {status}{reason}")
        sys.exit(EXIT_JOB_FAILED)
    if waited and status == "running":
        note(f"search {search_id} still running after {timeout:g} s (search show {search_id})")
        sys.exit(EXIT_JOB_FAILED)


def _show(state: State, found: dict[str, Any], leaderboard: bool = True) -> None:
    state.emit(found, lambda s: search_view(s, leaderboard=leaderboard, width=state.width))


@search.command("start")
@click.argument("dataset")
@click.argument("algorithm")
@click.option(
    "--space",
    required=True,
    type=JsonObject(),
    metavar="JSON|@FILE",
    help='Each hyperparameter\'s values [1, 5, 15] or range {"low": 10, "high": 200,'
    ' "log": true, "type": "int"}.',
)
@click.option(
    "--strategy",
    type=click.Choice(STRATEGIES),
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
    "--fixed", type=JsonObject(), metavar="JSON|@FILE", help="Hyperparameters of every trial."
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
@json_option
@pass_state
def search_start(
    state: State,
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
    found = state.client.submit_search(dataset, algorithm, space, strategy=strategy, **options)
    total = (found.get("progress") or {}).get("total")
    note(f"started search {found['search_id']}: {total} trials")
    if wait:
        found = wait_for_search(state.client, found, timeout)
    _show(state, found, leaderboard=wait)
    _exit_unless_ended_well(found, waited=wait, timeout=timeout)


@search.command("show")
@click.argument("search_id")
@json_option
@pass_state
def search_show(state: State, search_id: str) -> None:
    """Show a search: status, progress, best trial, registered model, leaderboard."""
    _show(state, state.client.get_search(search_id))


@search.command("ls")
@click.option("--status", type=click.Choice(["running", "succeeded", "failed", "cancelled"]))
@click.option("--model-name")
@click.option("--dataset")
@click.option("--strategy", type=click.Choice(STRATEGIES))
@click.option("--page", type=click.IntRange(min=1), help="Default: 1.")
@click.option("--limit", type=click.IntRange(min=1))
@json_option
@pass_state
def search_ls(state: State, **filters: Any) -> None:
    """List searches, newest first."""
    state.emit(state.client.list_searches(**filters), searches_table)


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
@json_option
@pass_state
def search_trials(state: State, search_id: str, sort: str, page: int, limit: int) -> None:
    """List a search's trials: params, score ± std over the folds, fit time, worker."""
    found = state.client.search_trials(search_id, sort=sort, page=page, limit=limit)
    state.emit(found, lambda answer: trials_table(answer, sort))


@search.command("cancel")
@click.argument("search_id")
@json_option
@pass_state
def search_cancel(state: State, search_id: str) -> None:
    """Cancel a running search (its queued and running trials; finished ones are kept)."""
    _show(state, state.client.cancel_search(search_id), leaderboard=False)
