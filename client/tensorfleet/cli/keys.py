"""API keys (an admin key): ``keys`` (list), ``keys create|show|revoke``."""

from __future__ import annotations

import click

from tensorfleet.cli.common import State, json_option, note, page_options, pass_state
from tensorfleet.tables import keys_table
from tensorfleet.views import key_view

SCOPES = ["read", "train", "predict", "admin"]


@click.group(invoke_without_command=True)
@click.option("--include-revoked", is_flag=True, help="Revoked keys too.")
@page_options
@json_option
@click.pass_context
def keys(ctx: click.Context, include_revoked: bool, page: int | None, limit: int | None) -> None:
    """List API keys (never their secrets), or create, show or revoke one (admin key).

    \b
    keys | keys create ci-trainer --scope read --scope train | keys show ID | keys revoke ID
    """
    if ctx.invoked_subcommand is not None:
        if include_revoked or page is not None or limit is not None:
            raise click.UsageError("list options go without a subcommand: keys --include-revoked")
        return
    state = ctx.find_object(State)
    assert state is not None
    found = state.client.list_keys(include_revoked=include_revoked, page=page, limit=limit)
    state.emit(found, keys_table)


@keys.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(SCOPES),
    help="A scope of the key (repeat for more).",
)
@click.option("--expires-at", metavar="ISO-TIME", help="Default: never.")
@json_option
@pass_state
def keys_create(state: State, name: str, scopes: tuple[str, ...], expires_at: str | None) -> None:
    """Create key NAME; its secret is printed this once (it is stored only as a hash)."""
    state.emit(state.client.create_key(name, list(scopes), expires_at), key_view)


@keys.command("show")
@click.argument("key_id")
@json_option
@pass_state
def keys_show(state: State, key_id: str) -> None:
    """Show one key's metadata."""
    state.emit(state.client.get_key(key_id), key_view)


@keys.command("revoke")
@click.argument("key_id")
@pass_state
def keys_revoke(state: State, key_id: str) -> None:
    """Revoke a key: from the next request on it is refused."""
    state.client.revoke_key(key_id)
    note(f"revoked {key_id}")
