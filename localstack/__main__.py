"""``python -m localstack``: run the local stack in the foreground until Ctrl-C/SIGTERM.

A child that dies while the stack runs (a worker, Redis, the MongoDB-compatible server, the
API, Flower, beat) is started again with a backoff and a log line (``localstack.keeper``).
Exit status: 0 after Ctrl-C or SIGTERM, 1 if a service fails to start, 2 for a bad setting.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
from types import FrameType

from localstack.config import SERVICES, ConfigError, StackConfig
from localstack.keeper import Keeper
from localstack.process import StackError
from localstack.stack import LocalStack


class _Interrupted(Exception):
    """Raised by the SIGTERM/SIGINT handler to unwind into the cleanup."""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one interrupt: cleanup must not be cut short
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise _Interrupted(signal.Signals(signum).name)


def _say(message: str) -> None:
    print(f"[localstack] {message}", file=sys.stderr, flush=True)


def _cli_exports(stack: LocalStack) -> list[str]:
    """The lines to paste into a shell so the ``tensorfleet`` CLI (and
    ``TensorFleetClient.from_env()``) talk to this stack; none without the API."""
    if "api" not in stack.config.services:
        return []
    key = stack.secrets.admin_key
    shown = '"$TENSORFLEET_ADMIN_KEY"' if key.from_environment else shlex.quote(key.value)
    return [
        "For the tensorfleet CLI, paste into your shell:",
        f"  export TENSORFLEET_URL={shlex.quote(stack.api_url)} TENSORFLEET_API_KEY={shown}",
    ]


def main(argv: list[str] | None = None) -> int:
    """Start the stack from the environment, print its URLs, supervise it, stop it."""
    parser = argparse.ArgumentParser(
        prog="python -m localstack",
        description="Run Redis, MongoDB (nx-27017), the API, Celery workers and Flower locally. "
        "Settings: API_PORT FLOWER_PORT REDIS_PORT MONGO_PORT WORKERS METRICS_PORT DATA_DIR "
        "MONGODB_DB REDIS_URL MONGODB_URL. Secrets, each generated on the first start and kept "
        "in DATA_DIR/secrets/ unless set: TENSORFLEET_ADMIN_KEY ARTIFACT_SIGNING_KEY "
        "FLOWER_BASIC_AUTH REDIS_PASSWORD.",
    )
    parser.add_argument(
        "--services",
        default=",".join(SERVICES),
        help=f"comma-separated subset to start (default: {','.join(SERVICES)})",
    )
    args = parser.parse_args(argv)
    try:
        services = tuple(s.strip() for s in args.services.split(",") if s.strip())
        stack = LocalStack(StackConfig.from_env(services=services))
        _ = stack.secrets  # given, kept in DATA_DIR/secrets/ or generated there now
    except ConfigError as error:
        _say(f"configuration error: {error}")
        return 2

    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    status = 0
    try:
        _say(f"starting {', '.join(services)} (logs in {stack.log_dir})")
        stack.start()
        width = max(map(len, stack.urls))
        lines = [f"  {name:<{width}}  {url}" for name, url in stack.urls.items()]
        print(
            "TensorFleet local stack is up (Ctrl-C to stop):",
            *lines,
            *_cli_exports(stack),
            sep="\n",
            flush=True,
        )
        Keeper(stack, _say).run()  # restarts a child that dies, until Ctrl-C or SIGTERM
    except _Interrupted as signame:
        _say(f"{signame}: stopping")
    except StackError as error:
        _say(f"error: {error}")
        status = 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stack.stop()
        _say("stopped")
    return status


if __name__ == "__main__":
    sys.exit(main())
