"""Progress on stderr: a tqdm bar when tqdm is installed (bench/requirements.txt), else lines."""

from __future__ import annotations

import sys
from typing import Any


class Progress:
    """``step(label)`` after each unit of work out of ``total``."""

    def __init__(self, total: int, enabled: bool = True) -> None:
        self._bar: Any = None
        self._done, self._total, self._enabled = 0, total, enabled
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self._bar = tqdm(total=total, unit="step", file=sys.stderr, dynamic_ncols=True)

    def describe(self, label: str) -> None:
        """Say what is running now."""
        if self._bar is not None:
            self._bar.set_description(label)
        elif self._enabled:
            print(f"[bench] {label} ...", file=sys.stderr, flush=True)

    def step(self, n: int = 1) -> None:
        """Count ``n`` units done."""
        self._done += n
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        """Finish the bar."""
        if self._bar is not None:
            self._bar.close()
