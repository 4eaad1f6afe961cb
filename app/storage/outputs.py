"""Output files of batch prediction jobs: one signed GridFS file per try of a job.

A try writes ``output:<job id>:<attempt>``; the job's ``result.output`` names the one that
was committed (the job's ``succeeded`` write is the commit point), and every other try's
file is removed when the job ends or is run again.
"""

from __future__ import annotations

from typing import Any

from pymongo.database import Database

from app.storage.artifacts import ArtifactStore
from app.storage.signing import Signer


def output_id(job_id: str, attempt: int) -> str:
    """The GridFS id of the output file written by try ``attempt`` of a job."""
    return f"output:{job_id}:{attempt}"


def committed_output(job: dict[str, Any]) -> Any:
    """The file id a succeeded prediction job's result names, or None."""
    return ((job.get("result") or {}).get("output") or {}).get("file_id")


class OutputStore:
    """Write, read and remove batch prediction outputs (reads are verified)."""

    def __init__(self, db: Database, signer: Signer | None = None) -> None:
        self.artifacts = ArtifactStore(db, signer)

    def discard(self, job_id: str, attempts: range, keep: Any = None) -> None:
        """Delete the outputs of tries ``attempts`` of a job, except ``keep``."""
        for attempt in attempts:
            if (file_id := output_id(job_id, attempt)) != keep:
                self.artifacts.delete(file_id)
