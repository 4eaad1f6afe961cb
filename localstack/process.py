"""Child-process helpers of the local stack: spawn, readiness probes, stop with no orphans."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import ExitStack, suppress
from datetime import datetime
from pathlib import Path

HOST = "127.0.0.1"


class StackError(RuntimeError):
    """A service of the local stack failed to start or to stay up."""


class Child:
    """One long-running server process, leader of its own process group, logging to a file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: Path,
        log_path: Path,
        stdin: bytes | None = None,
    ) -> None:
        """Start ``argv``; ``stdin`` (e.g. a configuration holding a secret) is written to its
        standard input, which is then closed (default: /dev/null)."""
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            self.log_offset = log.tell()
            log.write(f"\n=== {datetime.now():%F %T} start: {shlex.join(argv)}\n".encode())
            log.flush()
            # A new session: Ctrl-C in the terminal reaches only the supervisor, and the whole
            # group (gunicorn's and celery's pool processes) can be killed at once.
            self.popen = subprocess.Popen(
                list(argv),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if stdin is not None:
            assert self.popen.stdin is not None
            with suppress(BrokenPipeError), self.popen.stdin:  # died at once: its log says why
                self.popen.stdin.write(stdin)

    @property
    def pid(self) -> int:
        """The leader's PID, which is also the process-group ID."""
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        """The exit code once the process has exited, else None (reaps it)."""
        return self.popen.poll()

    def log_since_start(self) -> str:
        """What this run has written to its log so far."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self.log_offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines this run wrote, indented, for error messages."""
        tail = self.log_since_start().splitlines()[-lines:]
        return "\n".join(f"    | {line}" for line in tail)

    def signal_group(self, sig: signal.Signals) -> None:
        """Send ``sig`` to every process of the group; a vanished group is fine."""
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)


def stop_children(children: Iterable[Child], timeout: float) -> None:
    """SIGTERM each leader, wait up to ``timeout`` s in all, then SIGKILL what is left.

    Leaders get SIGTERM (gunicorn and celery shut their own workers down gracefully);
    the whole group gets SIGKILL afterwards so that no pool process survives as an orphan.
    """
    children = list(children)
    for child in children:
        if child.returncode is None:
            with suppress(ProcessLookupError):
                child.popen.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in children:
        with suppress(subprocess.TimeoutExpired):
            child.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
    for child in children:
        child.signal_group(signal.SIGKILL)
        child.popen.wait(timeout=5)
    wait_until(lambda: not any(group_members(c.pid) for c in children), timeout=5)


def group_members(pgid: int) -> list[int]:
    """PIDs of live (non-zombie) processes in process group ``pgid`` (Linux /proc)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll ``check()`` until it is truthy or ``timeout`` s pass; return its last verdict."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


def port_is_free(port: int, host: str = HOST) -> bool:
    """True if nothing listens on ``host:port`` (binds it like a server would)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_open(port: int, host: str = HOST) -> bool:
    """True if a server accepts connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def free_ports(count: int, *, consecutive: bool = False) -> list[int]:
    """``count`` distinct free ports chosen by the kernel (a consecutive block if asked)."""
    if not consecutive:
        with ExitStack() as held:
            socks = [held.enter_context(socket.socket()) for _ in range(count)]
            for sock in socks:
                sock.bind((HOST, 0))
            return [sock.getsockname()[1] for sock in socks]
    for _ in range(50):
        first = free_ports(1)[0]
        block = range(first, first + count)
        if block[-1] < 65536 and all(port_is_free(port) for port in block):
            return list(block)
    raise StackError(f"no block of {count} free consecutive ports found")
