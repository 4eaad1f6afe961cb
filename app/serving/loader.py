"""The one choke point where the server deserializes a model file: verify, then load.

``joblib.load`` runs pickle, i.e. arbitrary code, so a model file is only ever
loaded here, after every chunk's MAC and the file's MAC were checked
(``ArtifactStore.read``); a test fails if any other module of ``app/`` calls
``joblib.load`` or ``pickle.load``.
"""

from __future__ import annotations

import io
from typing import Any

from pymongo.database import Database
from sklearn.pipeline import Pipeline

from app.errors import IntegrityError
from app.ml.training import load_model
from app.services.integrity import quarantine, refuse_if_quarantined
from app.storage.models import ModelRepository
from app.storage.signing import Signer


def load_verified_model(db: Database, signer: Signer, model: dict[str, Any]) -> Pipeline:
    """The fitted Pipeline of ``model`` (its document); IntegrityError if its file changed."""
    refuse_if_quarantined("model", model)
    try:
        raw = ModelRepository(db, signer).artifacts.read(model["file_id"])
    except IntegrityError as error:
        raise quarantine(db, "model", model, error) from None
    return load_model(io.BytesIO(raw))
