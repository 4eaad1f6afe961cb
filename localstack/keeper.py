"""Keeping the local stack alive: a child that dies unexpectedly is started again.

Each child gets its own backoff (1 s, 2 s, 4 s … up to 30 s), reset once it has
stayed up a minute, and every restart is logged. Redis and the MongoDB-compatible
server come back on their data directories; the app children reconnect to them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from localstack.stack import LocalStack


@dataclass
class _Backoff:
    delay: float
    due: float = 0.0  # monotonic time of the next restart, once the child is seen dead
    started: float = field(default_factory=time.monotonic)


class Keeper:
    """Restarts the dead children of ``stack``; ``check()`` is one pass."""

    def __init__(
        self,
        stack: LocalStack,
        say: Callable[[str], None],
        first_delay: float = 1.0,
        max_delay: float = 30.0,
        healthy_after: float = 60.0,
    ) -> None:
        self.stack, self.say = stack, say
        self.first_delay, self.max_delay, self.healthy_after = first_delay, max_delay, healthy_after
        self._backoff: dict[str, _Backoff] = {}
        self.restarts: dict[str, int] = {}

    def check(self) -> None:
        """Restart every child that has exited and whose backoff has passed."""
        now = time.monotonic()
        for name, child in list(self.stack.children.items()):
            state = self._backoff.setdefault(name, _Backoff(self.first_delay))
            if child.returncode is None:
                if now - state.started > self.healthy_after:
                    state.delay = self.first_delay
                continue
            if state.due == 0.0:
                state.due = now + state.delay
                self.say(
                    f"{name} exited unexpectedly (code {child.returncode}); restarting in"
                    f" {state.delay:g} s (log: {child.log_path})"
                )
                continue
            if now >= state.due:
                self.stack.restart(name)
                self.restarts[name] = self.restarts.get(name, 0) + 1
                self.say(f"{name} restarted (restart #{self.restarts[name]})")
                state.started, state.due = now, 0.0
                state.delay = min(self.max_delay, state.delay * 2)

    def run(self, stop: threading.Event | None = None, interval: float = 0.25) -> None:
        """Check until ``stop`` is set (forever without one: until a signal interrupts)."""
        stop = stop or threading.Event()
        while not stop.wait(interval):
            self.check()

    def run_in_background(self) -> threading.Event:
        """Check from a daemon thread; set the returned event to stop it."""
        stop = threading.Event()
        threading.Thread(target=self.run, args=(stop,), name="keeper", daemon=True).start()
        return stop
