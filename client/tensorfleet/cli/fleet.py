"""The deployment as a whole: ``statistics`` and ``health``."""

from __future__ import annotations

from typing import Any

import click

from tensorfleet.cli.common import State, json_option, pass_state
from tensorfleet.views import details, statistics_view


@click.command()
@json_option
@pass_state
def statistics(state: State) -> None:
    """Models by algorithm and dataset, best and mean scores, jobs by status."""
    state.emit(state.client.statistics(), statistics_view)


def _health_view(ready: dict[str, Any]) -> Any:
    return details([(name, str(value)) for name, value in ready.items()])


@click.command()
@json_option
@pass_state
def health(state: State) -> None:
    """Whether the API answers and its Redis and MongoDB are up (GET /ready); a way to
    check --url and the key."""
    state.emit(state.client.ready(), _health_view)
