"""The model registry: ``models`` (list, ``show``, ``tag``, ``rm``), ``delete``,
``download`` and ``alias`` (``set``, ``rm``, ``ls``)."""

from __future__ import annotations

from typing import Any

import click

from tensorfleet.cli.common import (
    State,
    VersionType,
    json_option,
    note,
    page_options,
    parse_tag,
    pass_state,
)
from tensorfleet.tables import aliases_table, models_table
from tensorfleet.views import alias_view, model_view


@click.group(invoke_without_command=True)
@click.option("--name")
@click.option("--algorithm")
@click.option("--dataset")
@click.option("--alias", help="Only the versions this alias points at.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Only with this tag.")
@click.option("--min-score", type=float)
@click.option("--created-after", metavar="ISO-TIME")
@click.option("--created-before", metavar="ISO-TIME")
@click.option("--sort", help="-created_at (default), created_at, -score, score, name, -version.")
@page_options
@json_option
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
    state = ctx.find_object(State)
    assert state is not None
    page = state.client.list_models(tags=dict(map(parse_tag, tags)), **given)
    state.emit(page, models_table)


@models.command("show")
@click.argument("ref")
@json_option
@pass_state
def models_show(state: State, ref: str) -> None:
    """Show one model version: metrics, lineage, aliases, tags."""
    state.emit(state.client.get_model(ref), model_view)


@models.command("tag")
@click.argument("ref")
@click.argument("tags", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--remove", "removed", multiple=True, metavar="KEY", help="Remove this tag.")
@click.option("--description", help="Set the description.")
@json_option
@pass_state
def models_tag(
    state: State,
    ref: str,
    tags: tuple[str, ...],
    removed: tuple[str, ...],
    description: str | None,
) -> None:
    """Set tags (merged into the model's), remove tags, or set the description."""
    changes: dict[str, str | None] = dict(map(parse_tag, tags))
    changes.update(dict.fromkeys(removed))
    if not changes and description is None:
        raise click.UsageError("give KEY=VALUE tags, --remove KEY or --description")
    updated = state.client.update_model(ref, tags=changes or None, description=description)
    state.emit(updated, model_view)


def _delete(state: State, ref: str) -> None:
    state.client.delete_model(ref)
    note(f"deleted {ref}")


@models.command("rm")
@click.argument("ref")
@pass_state
def models_rm(state: State, ref: str) -> None:
    """Delete a model version (admin key); refused while an alias points at it."""
    _delete(state, ref)


@click.command()
@click.argument("ref")
@pass_state
def delete(state: State, ref: str) -> None:
    """Delete model version REF, its document and its files (admin key; the same as
    ``models rm``). Refused while an alias points at it; its number is never reused."""
    _delete(state, ref)


@click.command()
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
@json_option
@pass_state
def download(
    state: State, ref: str, path: str | None, output: str | None, file_format: str
) -> None:
    """Download model REF's file to PATH (a file or a directory), SHA-256 checked; prints
    the path written."""
    if (path is None) == (output is None):
        raise click.UsageError("give PATH (or -o PATH), once")
    target = path or output
    assert target is not None
    state.emit_path(state.client.download_model(ref, target, format=file_format))


@click.group()
def alias() -> None:
    """Move, remove and list a model's aliases (NAME@ALIAS → a version)."""


@alias.command("set")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@click.argument("version", type=VersionType())
@click.option("--gate-metric", help="Refuse a version that scores less on this metric.")
@click.option(
    "--min-delta",
    type=float,
    help="With --gate-metric: the least gain over the current version (default 0).",
)
@json_option
@pass_state
def alias_set(
    state: State,
    name: str,
    alias_name: str,
    version: int,
    gate_metric: str | None,
    min_delta: float | None,
) -> None:
    """Point NAME@ALIAS at VERSION (3 or v3), creating the alias if need be."""
    if min_delta is not None and gate_metric is None:
        raise click.UsageError("--min-delta needs --gate-metric")
    moved = state.client.set_alias(
        name, alias_name, version, gate=gate_metric, min_delta=min_delta or 0.0
    )
    state.emit(moved, alias_view)


@alias.command("rm")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@pass_state
def alias_rm(state: State, name: str, alias_name: str) -> None:
    """Remove NAME@ALIAS (the versions stay)."""
    state.client.remove_alias(name, alias_name)
    note(f"removed {name}@{alias_name}")


@alias.command("ls")
@click.argument("name")
@click.option("--history", is_flag=True, help="Every move, newest first.")
@page_options
@json_option
@pass_state
def alias_ls(state: State, name: str, history: bool, page: int | None, limit: int | None) -> None:
    """List the aliases of model NAME, or their history."""
    found = state.client.list_aliases(name, history=history, page=page, limit=limit)
    state.emit(found, lambda answer: aliases_table(answer, history=history))
