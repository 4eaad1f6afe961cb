"""Datasets: ``datasets`` (list, ``show``, ``versions``, ``rm``) and ``upload``."""

from __future__ import annotations

import click

from tensorfleet.cli.common import State, json_option, note, page_options, pass_state
from tensorfleet.tables import datasets_table
from tensorfleet.views import dataset_view

_VERSION = click.option("--version", type=click.IntRange(min=1), help="Default: the latest.")


@click.group(invoke_without_command=True)
@page_options
@json_option
@click.pass_context
def datasets(ctx: click.Context, page: int | None, limit: int | None) -> None:
    """List datasets (the latest version of each), or show one, its versions, or delete it.

    \b
    datasets | datasets show iris --version 1 | datasets versions churn | datasets rm churn
    """
    if ctx.invoked_subcommand is not None:
        if page is not None or limit is not None:
            raise click.UsageError("--page/--limit go without a subcommand: datasets --page 2")
        return
    state = ctx.find_object(State)
    assert state is not None
    state.emit(state.client.list_datasets(page=page, limit=limit), datasets_table)


@datasets.command("show")
@click.argument("name")
@_VERSION
@json_option
@pass_state
def datasets_show(state: State, name: str, version: int | None) -> None:
    """Show one dataset version: task, target, features, classes, file."""
    state.emit(state.client.get_dataset(name, version), dataset_view)


@datasets.command("versions")
@click.argument("name")
@page_options
@json_option
@pass_state
def datasets_versions(state: State, name: str, page: int | None, limit: int | None) -> None:
    """List every version of dataset NAME, newest first."""
    state.emit(state.client.dataset_versions(name, page=page, limit=limit), datasets_table)


@datasets.command("rm")
@click.argument("name")
@click.option("--version", type=click.IntRange(min=1), help="Only this version (default: all).")
@pass_state
def datasets_rm(state: State, name: str, version: int | None) -> None:
    """Delete dataset NAME, every version or one (admin key; not a built-in one, not while an
    unfinished job uses it). Models trained on it keep its name and version."""
    state.client.delete_dataset(name, version)
    note(f"deleted dataset {name}" + (f" v{version}" if version else ""))


@click.command()
@click.argument("csv_path", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", required=True)
@click.option("--target", required=True)
@click.option("--description", default="")
@json_option
@pass_state
def upload(state: State, csv_path: str, name: str, target: str, description: str) -> None:
    """Upload a CSV dataset (a new version if the name exists)."""
    state.emit(state.client.upload_dataset(csv_path, name, target, description), dataset_view)
