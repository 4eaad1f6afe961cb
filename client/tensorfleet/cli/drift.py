"""Drift checks: ``drift REF [--since TIME] [--until TIME]``."""

from __future__ import annotations

import click

from tensorfleet.cli.common import State, json_option, pass_state
from tensorfleet.tables import drift_table


@click.command()
@click.argument("ref")
@click.option("--since", metavar="ISO-TIME", help="Window start (default: 24 h before --until).")
@click.option("--until", metavar="ISO-TIME", help="Window end (default: now).")
@json_option
@pass_state
def drift(state: State, ref: str, since: str | None, until: str | None) -> None:
    """Whether model REF's logged inputs drifted from its training rows, per feature.

    \b
    drift iris_rf@champion
    drift iris_rf@v2 --since 2026-12-01T00:00:00Z --until 2026-12-02T00:00:00Z
    """
    state.emit(state.client.drift(ref, since=since, until=until), drift_table)
