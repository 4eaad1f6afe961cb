"""A memory limit per job: the training may grow its process by at most ``JOB_MEMORY_LIMIT_MB``.

Enforced with ``RLIMIT_AS`` (address space) in the process that fits, set to its
current size plus the limit and restored afterwards, so an allocation past it
raises ``MemoryError`` in that process instead of the host's OOM killer ending
it (or a neighbour).
"""

from __future__ import annotations

import resource
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.errors import ResourceLimitError


def _address_space_bytes() -> int:
    """This process's current virtual size (``VmSize``), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


@contextmanager
def memory_limit(limit_mb: int) -> Iterator[None]:
    """Cap how much this process may grow inside the block (0: no cap)."""
    if limit_mb <= 0:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = _address_space_bytes() + limit_mb * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    except MemoryError:
        raise ResourceLimitError(
            f"The job needed more than JOB_MEMORY_LIMIT_MB={limit_mb} MB of memory.",
            {"limit_mb": limit_mb},
        ) from None
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
