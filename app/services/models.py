"""Model use cases: open a model's file for download (verified), delete a version."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pymongo.database import Database

from app.errors import IntegrityError
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

    @property
    def filename(self) -> str:
        """``<name>-v<version>.joblib``."""
        return f"{self.model['name']}-v{self.model['version']}.joblib"

    @property
    def digest_header(self) -> str:
        """``Repr-Digest`` (RFC 9530) of the file: ``sha-256=:<base64>:``."""
        return f"sha-256=:{base64.b64encode(bytes.fromhex(self.sha256)).decode()}:"


def open_download(
    db: Database, signer: Signer, model_id: str, request_id: str = ""
) -> ModelDownload:
    """The verified file of model ``model_id``; IntegrityError (and quarantine) if changed.

    The file's document and first window are verified before this returns, so a tampered
    file of up to ``WINDOW_BYTES`` is refused before any byte is sent; a later window
    that fails stops the stream (the client's SHA-256 check then refuses the file).
    """
    models = ModelRepository(db, signer)
    model = models.get(model_id)
    refuse_if_quarantined("model", model)
    try:
        opened = models.artifacts.open(model["file_id"])
    except IntegrityError as error:
        raise quarantine(db, "model", model, error, request_id) from None

    def chunks() -> Iterator[bytes]:
        try:
            yield from opened.chunks()
        except IntegrityError as error:
            quarantine(db, "model", model, error, request_id)
            raise

    return ModelDownload(model, opened.length, opened.sha256, chunks())
