"""What every command shares: the invocation's :class:`State` (the client, the output
mode, the console), ``--json``, printing an answer for people or for scripts, the exit
statuses, and the parameter types (``-p name=value``, ``key=value`` tags, versions, JSON)."""

from __future__ import annotations

import ast
import json
import math
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console, RenderableType

from tensorfleet.client import TensorFleetClient
from tensorfleet.tables import TABLE_WIDTH, render

# Exit statuses (the README and ``tensorfleet --help`` list them).
EXIT_JOB_FAILED = 1  # a job or a waited-for search failed, was cancelled or is still running
EXIT_API_ERROR = 2  # the API refused (its JSON error on stderr); also click's usage errors
EXIT_DOWNLOAD_REFUSED = 3  # a download's checksum or format is not what was asked
EXIT_UNREACHABLE = 4  # no answer, no answer in time, or not the TensorFleet API's answer
EXIT_UNEXPECTED = 5  # a bug (TENSORFLEET_DEBUG=1 shows the traceback)
EXIT_INTERRUPTED = 130  # Ctrl-C (what a shell reports for SIGINT)

F = TypeVar("F", bound=Callable[..., Any])


def _stdout_width() -> int:
    """The width output fits: the terminal's when stdout is one, else :data:`TABLE_WIDTH`."""
    if sys.stdout.isatty():
        return max(60, shutil.get_terminal_size((TABLE_WIDTH, 24)).columns)
    return TABLE_WIDTH


@dataclass
class State:
    """One invocation: the API ``client``, whether to print JSON (``as_json``)."""

    client: TensorFleetClient
    as_json: bool = False
    _console: Console | None = field(default=None, repr=False)

    @property
    def console(self) -> Console:
        """A console on stdout (colours only on a terminal)."""
        if self._console is None:
            self._console = Console(highlight=False, emoji=False, soft_wrap=False)
        return self._console

    @property
    def width(self) -> int:
        """How wide tables may be."""
        return _stdout_width()

    def show(self, renderable: RenderableType) -> None:
        """Print for people: rich on a terminal; plain lines at :attr:`width` elsewhere."""
        if sys.stdout.isatty():
            self.console.print(renderable, width=self.width)
        else:
            click.echo("\n".join(render(renderable, self.width)))

    def emit(self, answer: Any, view: Callable[[Any], RenderableType]) -> None:
        """``answer`` as JSON with ``--json``, else ``view(answer)`` for people."""
        if self.as_json:
            print_json(answer)
        else:
            self.show(view(answer))

    def emit_path(self, path: Path) -> None:
        """A file written: its path (with ``--json``: ``{"path": …}``)."""
        if self.as_json:
            print_json({"path": str(path)})
        else:
            click.echo(str(path))


pass_state = click.make_pass_decorator(State)


def print_json(data: Any) -> None:
    """``data`` as indented JSON on stdout (keys sorted)."""
    click.echo(json.dumps(data, indent=2, sort_keys=True))


def _set_json(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    if value:
        ctx.find_object(State).as_json = True  # type: ignore[union-attr]


json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    expose_value=False,
    callback=_set_json,
    help="Print the API's answer as JSON (for scripts).",
)


def note(message: str) -> None:
    """A line for people on stderr (stdout stays the answer)."""
    click.echo(message, err=True)


# parameter types


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _plain(value: Any) -> bool:
    """Whether ``value`` is plain JSON data (finite numbers, strings, lists, dicts)."""
    if value is None or isinstance(value, bool | int | str):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list | tuple):
        return all(map(_plain, value))
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _lists(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_lists(item) for item in value]
    if isinstance(value, dict):
        return {key: _lists(item) for key, item in value.items()}
    return value


def parse_value(text: str) -> Any:
    """A hyperparameter's value as a user means it: JSON (``200``, ``0.1``, ``null``,
    ``true``, ``[1, 2]``, ``"text"``), else a Python literal (``None``, ``True``,
    ``False``, ``(100, 50)`` → a list), else the text itself (``gini``). NaN and infinities
    stay text (JSON has none)."""
    try:
        parsed = json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        try:
            parsed = ast.literal_eval(text.strip())
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return text
    return _lists(parsed) if _plain(parsed) else text


def parse_param(text: str) -> tuple[str, Any]:
    """``name=value`` with the value read by :func:`parse_value`."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise click.BadParameter(f"expected name=value, got {text!r}")
    return name.strip(), parse_value(raw)


def params_option(ctx: click.Context, _: click.Parameter, values: tuple[str, ...]) -> dict:
    """The callback of ``-p/--param``: every ``name=value`` as one dict."""
    return dict(map(parse_param, values))


def parse_tag(text: str) -> tuple[str, str]:
    """``key=value``, the value kept as text (tags are strings)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"expected key=value, got {text!r}")
    return key, value


class VersionType(click.ParamType):
    """A model version: ``3`` or ``v3``."""

    name = "version"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        """The version number."""
        text = str(value)
        digits = text[1:] if text[:1] in ("v", "V") else text
        if not digits.isdigit() or int(digits) < 1:
            self.fail(f"expected a version number such as 3 or v3, got {text!r}", param, ctx)
        return int(digits)


class JsonObject(click.ParamType):
    """A JSON object, inline or read from ``@FILE`` (``@-``: stdin)."""

    name = "json"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> dict[str, Any]:
        """The object."""
        if isinstance(value, dict):
            return value
        text = str(value)
        if text.startswith("@"):
            try:
                with click.open_file(text[1:], encoding="utf-8") as handle:
                    text = handle.read()
            except OSError as exc:
                self.fail(f"cannot read {text[1:]!r}: {exc.strerror or exc}", param, ctx)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            self.fail(f"not JSON ({exc})", param, ctx)
        if not isinstance(data, dict):
            self.fail("expected a JSON object, e.g. '{\"n_neighbors\": [1, 5, 15]}'", param, ctx)
        return data


def page_options(function: F) -> F:
    """``--page`` and ``--limit`` of a list command."""
    function = click.option("--limit", type=click.IntRange(1, 100), help="Items per page.")(
        function
    )
    return click.option("--page", type=click.IntRange(min=1), help="Default: 1.")(function)
