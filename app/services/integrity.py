"""What happens when a stored file fails verification: quarantine, audit, count, refuse.

A model or dataset whose file does not match its signature was changed outside
TensorFleet. It is marked ``quarantined`` (refused from then on, with 409
``integrity_error``), an audit record and the ``tensorfleet_integrity_failures_total``
metric are written, and nothing of the file is used.
"""

from __future__ import annotations

import logging
from typing import Any

from pymongo.database import Database

from app.errors import IntegrityError
from app.metrics import INTEGRITY_FAILURES
from app.storage.audit import AuditRepository, new_audit_record
from app.storage.datasets import DatasetRepository
from app.storage.models import ModelRepository

log = logging.getLogger(__name__)


def refuse_if_quarantined(kind: str, doc: dict[str, Any]) -> None:
    """IntegrityError for a model or dataset already found tampered with."""
    if doc.get("quarantined"):
        name = doc.get("name", doc.get("_id"))
        raise IntegrityError(
            f"The {kind} '{name}' is quarantined: its file failed verification.",
            {kind: str(name), "quarantined": doc["quarantined"]},
        )


def quarantine(
    db: Database, kind: str, doc: dict[str, Any], error: IntegrityError, request_id: str = ""
) -> IntegrityError:
    """Quarantine ``doc`` (a ``model`` or ``dataset``) for ``error``; returns the error."""
    reason = str(error.details.get("reason", error.message))
    log.error("integrity failure: %s %s: %s", kind, doc.get("_id"), reason)
    if kind == "model":
        ModelRepository(db).quarantine(doc, reason)
    else:
        DatasetRepository(db).quarantine(doc, reason)
    INTEGRITY_FAILURES.labels(kind).inc()
    AuditRepository(db).insert(
        new_audit_record(
            event="integrity_failure",
            touched={kind: str(doc.get("_id")), "name": doc.get("name")},
            reason=reason,
            request_id=request_id or None,
        )
    )
    return error
