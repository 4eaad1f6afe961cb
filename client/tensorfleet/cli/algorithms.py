"""Algorithms: ``algorithms`` (list) and ``algorithms show NAME``."""

from __future__ import annotations

import click

from tensorfleet.cli.common import State, json_option, pass_state
from tensorfleet.tables import algorithms_table
from tensorfleet.views import algorithm_view


@click.group(invoke_without_command=True)
@json_option
@click.pass_context
def algorithms(ctx: click.Context) -> None:
    """List the algorithms a job can train, or show one's hyperparameters.

    \b
    algorithms | algorithms show random_forest
    """
    if ctx.invoked_subcommand is not None:
        return
    state = ctx.find_object(State)
    assert state is not None
    state.emit(state.client.list_algorithms(), algorithms_table)


@algorithms.command("show")
@click.argument("name")
@json_option
@pass_state
def algorithms_show(state: State, name: str) -> None:
    """Show one algorithm: tasks, estimators, hyperparameters (types, defaults, limits)."""
    state.emit(state.client.get_algorithm(name), algorithm_view)
