"""Model use cases: open a model's file (joblib or ONNX) for download, verified."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pymongo.database import Database

from app.errors import ConflictError, IntegrityError
from app.services.integrity import quarantine, refuse_if_quarantined
from app.storage.models import ModelRepository
from app.storage.signing import Signer


@dataclass
class ModelDownload:
    """A model file ready to stream: its metadata, size, hash and verified chunks."""

    model: dict[str, Any]
    length: int
    sha256: str
    chunks: Iterator[bytes]
    format: str = "joblib"

    @property
    def filename(self) -> str:
        """``<name>-v<version>.joblib`` (or ``.onnx``)."""
        return f"{self.model['name']}-v{self.model['version']}.{self.format}"

    @property
    def digest_header(self) -> str:
        """``Repr-Digest`` (RFC 9530) of the file: ``sha-256=:<base64>:``."""
        return f"sha-256=:{base64.b64encode(bytes.fromhex(self.sha256)).decode()}:"


def open_download(
    db: Database, signer: Signer, model_id: str, request_id: str = "", fmt: str = "joblib"
) -> ModelDownload:
    """The verified ``fmt`` file of model ``model_id``; IntegrityError (and quarantine) if
    changed; ConflictError naming the reason if the model has no ONNX copy.

    The file's document and first window are verified before this returns, so a tampered
    file of up to ``WINDOW_BYTES`` is refused before any byte is sent; a later window
    that fails stops the stream (the client's SHA-256 check then refuses the file).
    """
    models = ModelRepository(db, signer)
    model = models.get(model_id)
    refuse_if_quarantined("model", model)
    try:
        opened = models.artifacts.open(file_id_of(model, fmt))
    except IntegrityError as error:
        raise quarantine(db, "model", model, error, request_id) from None

    def chunks() -> Iterator[bytes]:
        try:
            yield from opened.chunks()
        except IntegrityError as error:
            quarantine(db, "model", model, error, request_id)
            raise

    return ModelDownload(model, opened.length, opened.sha256, chunks(), fmt)


def file_id_of(model: dict[str, Any], fmt: str) -> Any:
    """The GridFS id of ``model``'s ``fmt`` file; ConflictError if it has none."""
    if fmt == "joblib":
        return model["file_id"]
    onnx = (model.get("formats") or {}).get("onnx") or {}
    if onnx.get("status") != "ok":
        reason = onnx.get("reason") or "it was trained before ONNX export or with it off"
        raise ConflictError(
            f"Model {model['name']}@v{model['version']} has no ONNX file: {reason}",
            {"format": "onnx", "status": onnx.get("status", "absent")},
        )
    return onnx["file_id"]
