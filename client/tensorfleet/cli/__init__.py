"""``tensorfleet`` (or ``python -m tensorfleet``): train, register, serve and fetch models
from the command line.

tensorfleet algorithms                     # datasets | models | jobs | keys | statistics
tensorfleet submit iris random_forest -p n_estimators=50 -p max_depth=None --wait
tensorfleet status <job_id>                # cancel <job_id>
tensorfleet models --name iris_rf --alias champion --tag team=risk
tensorfleet models show iris_rf@champion   # models tag REF team=risk | delete REF
tensorfleet alias set iris_rf champion 2 --gate-metric f1_macro --min-delta 0.01
tensorfleet alias ls iris_rf --history     # alias rm iris_rf staging
tensorfleet predict iris_rf@champion --json rows.json --proba      # or --csv rows.csv
tensorfleet predict-batch iris_rf@champion iris --wait --output predictions.csv
tensorfleet download iris_rf@champion model.joblib                 # or --format onnx
tensorfleet drift iris_rf@champion --since 2026-12-01T00:00:00Z     # inputs vs training rows
tensorfleet upload churn.csv --name churn --target churned
tensorfleet search start iris knn --strategy grid --space '{"n_neighbors": [1, 5, 15]}' --wait
tensorfleet --json models                  # any command: the API's answer as JSON

Where and who: ``--url`` (``$TENSORFLEET_URL``, default http://127.0.0.1:8000, what
``make run`` serves) and ``--api-key`` (``$TENSORFLEET_API_KEY``; ``--key`` and
``$TENSORFLEET_KEY`` still work). Answers are tables and summaries for people on stdout
(at most 100 columns unless stdout is a wider terminal), or with ``--json`` (before the
command, or after it but for ``predict``, whose ``--json`` is its input) the API's answer.

Errors are one line on stderr, never a traceback; the exit status tells them apart:
1 a job or a waited-for search failed or was cancelled, or still runs at ``--timeout`` (or
a local file problem), 2 the API refused (its JSON error body, on one line; also click's
usage errors), 3 a download's checksum or format is not what was asked (nothing saved),
4 the server cannot be reached, did not answer in time, or what answered is not the
TensorFleet API (a wrong ``--url``), 5 an unexpected error (``TENSORFLEET_DEBUG=1`` shows
its traceback), 130 Ctrl-C (a job or search being waited for goes on).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, NoReturn

import click
import requests

from tensorfleet._version import __version__
from tensorfleet.cli import (
    algorithms,
    datasets,
    drift,
    fleet,
    jobs,
    keys,
    models,
    predictions,
    searches,
)
from tensorfleet.cli.common import (
    EXIT_API_ERROR,
    EXIT_DOWNLOAD_REFUSED,
    EXIT_INTERRUPTED,
    EXIT_JOB_FAILED,
    EXIT_UNEXPECTED,
    EXIT_UNREACHABLE,
    State,
)
from tensorfleet.client import KEY_VARIABLE, URL_VARIABLE, TensorFleetClient
from tensorfleet.errors import (
    APIError,
    FormatError,
    IntegrityError,
    RequestTimeoutError,
    UnexpectedResponseError,
    UnreachableError,
)
from tensorfleet.formatting import one_line
from tensorfleet.transport import DEFAULT_URL, RetryPolicy

LEGACY_KEY_VARIABLE = "TENSORFLEET_KEY"
DEBUG_VARIABLE = "TENSORFLEET_DEBUG"
_WHERE = f"check --url or ${URL_VARIABLE}"


def _fail(message: str, status: int) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(status)


class _Commands(click.Group):
    """The root group: turns every error into one line on stderr and an exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; errors as the module's docstring says."""
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except UnexpectedResponseError as exc:
            _fail(f"error: {exc.message}; is it the TensorFleet API? ({_WHERE})", EXIT_UNREACHABLE)
        except APIError as exc:
            _fail(json.dumps(exc.as_body()), EXIT_API_ERROR)
        except IntegrityError as exc:
            _fail(f"integrity error: {one_line(exc)}", EXIT_DOWNLOAD_REFUSED)
        except FormatError as exc:
            _fail(f"format error: {one_line(exc)}", EXIT_DOWNLOAD_REFUSED)
        except RequestTimeoutError as exc:
            _fail(f"error: {one_line(exc)} (a slow server? --request-timeout)", EXIT_UNREACHABLE)
        except UnreachableError as exc:
            hint = "is the server running?" if "refused" in exc.reason.lower() else "a wrong host?"
            _fail(f"error: {one_line(exc)} ({hint} {_WHERE})", EXIT_UNREACHABLE)
        except requests.RequestException as exc:  # a redirect loop, a broken chunked answer …
            _fail(f"error: {one_line(exc)}", EXIT_UNREACHABLE)
        except OSError as exc:  # a local file: cannot write the download, read the CSV …
            _fail(f"error: {one_line(exc)}", EXIT_JOB_FAILED)
        except KeyboardInterrupt:
            _fail("interrupted", EXIT_INTERRUPTED)
        except Exception as exc:
            if os.environ.get(DEBUG_VARIABLE):
                raise
            _fail(
                f"unexpected error: {type(exc).__name__}: {one_line(exc)}"
                f" ({DEBUG_VARIABLE}=1 shows the traceback)",
                EXIT_UNEXPECTED,
            )


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--url",
    envvar=URL_VARIABLE,
    default=DEFAULT_URL,
    show_default=True,
    help=f"The API's base URL (or ${URL_VARIABLE}).",
)
@click.option(
    "--api-key",
    "--key",
    "api_key",
    envvar=[KEY_VARIABLE, LEGACY_KEY_VARIABLE],
    help=f"The API key (or ${KEY_VARIABLE}).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the API's answers as JSON (for scripts)."
)
@click.option(
    "--request-timeout",
    envvar="TENSORFLEET_TIMEOUT",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds one request may take (or $TENSORFLEET_TIMEOUT).",
)
@click.option(
    "--retries",
    envvar="TENSORFLEET_RETRIES",
    type=click.IntRange(0, 10),
    default=RetryPolicy.retries,
    show_default=True,
    help="Retries of a request safe to repeat, after a 503 or a failed connection.",
)
@click.version_option(__version__, "-V", "--version", prog_name="tensorfleet")
@click.pass_context
def cli(
    ctx: click.Context,
    url: str,
    api_key: str | None,
    as_json: bool,
    request_timeout: float,
    retries: int,
) -> None:
    """TensorFleet: train scikit-learn models on a fleet of workers, register and serve them.

    MODEL references: an id, NAME@ALIAS, NAME@vVERSION or NAME@latest.
    Exit status: 1 job failed, 2 API refused, 3 download refused, 4 server unreachable
    or not the API, 5 unexpected, 130 interrupted.
    """
    if isinstance(ctx.obj, TensorFleetClient):  # tests may hand in a client of their own
        client = ctx.obj
    else:
        try:
            client = TensorFleetClient(
                url,
                api_key=api_key,
                timeout=request_timeout,
                retry=RetryPolicy(retries=retries),
            )
        except ValueError as exc:  # one line, as every other error
            _fail(f"error: --url: {exc}", EXIT_API_ERROR)
        ctx.call_on_close(client.close)
    ctx.obj = State(client, as_json=as_json)


for _command in (
    jobs.submit,
    jobs.jobs,
    jobs.status,
    jobs.cancel,
    jobs.predict_batch,
    jobs.output,
    datasets.datasets,
    datasets.upload,
    algorithms.algorithms,
    models.models,
    models.download,
    models.delete,
    models.alias,
    predictions.predict,
    drift.drift,
    searches.search,
    keys.keys,
    fleet.statistics,
    fleet.health,
):
    cli.add_command(_command)


def main() -> None:
    """The ``tensorfleet`` console script (and ``python -m tensorfleet``)."""
    cli(prog_name="tensorfleet")
