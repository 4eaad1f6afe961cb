"""The audit log: who did what, and who was refused. Admin only."""

from __future__ import annotations

from flask import Blueprint

from app.api import context
from app.api.schemas import AuditQuery
from app.api.spec import scope, spec
from app.storage.audit import AuditRepository, public_audit_record

bp = Blueprint("audit", __name__)


@bp.get("")
@spec.validate(query=AuditQuery, tags=["audit"], security=scope("admin"))
def list_audit() -> dict:
    """Records, newest first: `?key=<key id>&since=&until=&status=&page=&limit=`.

    Each item: `{"id", "at", "event", "key_id", "key_name", "method", "route", "path",
    "status", "client", "request_id", "touched"}`.
    """
    query = context.parsed().query
    page = AuditRepository(context.db()).list(
        key_id=query.key,
        since=query.since,
        until=query.until,
        status=query.status,
        page=query.page,
        limit=query.limit,
    )
    return page.as_json(public_audit_record)
