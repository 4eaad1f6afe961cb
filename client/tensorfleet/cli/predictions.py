"""Online predictions: ``predict REF --json FILE | --csv FILE``."""

from __future__ import annotations

import json
from typing import IO

import click

from tensorfleet.bodies import predict_body
from tensorfleet.cli.common import State, pass_state
from tensorfleet.tables import predictions_table


@click.command()
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
@pass_state
def predict(
    state: State,
    ref: str,
    json_file: IO[str] | None,
    csv_file: IO[bytes] | None,
    proba: bool,
    engine: str | None,
) -> None:
    """Predict rows online with model REF (e.g. iris_rf@champion). Here --json names the
    input; for a JSON answer put --json before the command: tensorfleet --json predict …"""
    if (json_file is None) == (csv_file is None):
        raise click.UsageError("give exactly one of --json FILE and --csv FILE ('-': stdin)")
    if csv_file is not None:
        answer = state.client.predict_csv(ref, csv_file.read(), proba=proba, engine=engine)
    else:
        assert json_file is not None
        try:
            rows = json.load(json_file)
        except json.JSONDecodeError as exc:
            raise click.UsageError(f"--json: not JSON ({exc})") from None
        try:
            body = predict_body(rows)
        except (TypeError, ValueError) as exc:
            raise click.UsageError(f"--json: {exc}") from None
        answer = state.client.predict(ref, body, proba=proba, engine=engine)
    state.emit(answer, predictions_table)
