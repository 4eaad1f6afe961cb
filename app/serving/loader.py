"""The one choke point where the server deserializes a model file: verify, then load.

Both formats pass here: joblib files (pickle) and ONNX files (a protobuf graph, no code,
but still only verified bytes are parsed).

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
from app.ml.onnx_format import OnnxPipeline
from app.ml.training import load_model
from app.services.integrity import quarantine, refuse_if_quarantined
from app.storage.models import ModelRepository
from app.storage.signing import Signer


def load_verified_model(db: Database, signer: Signer, model: dict[str, Any]) -> Pipeline:
    """The fitted Pipeline of ``model`` (its document); IntegrityError if its file changed."""
    return load_model(io.BytesIO(_verified_bytes(db, signer, model, model["file_id"])))


def load_verified_onnx(db: Database, signer: Signer, model: dict[str, Any]) -> OnnxPipeline:
    """An ONNX Runtime session of ``model``'s ONNX file; IntegrityError if it changed."""
    onnx = model["formats"]["onnx"]
    raw = _verified_bytes(db, signer, model, onnx["file_id"])
    return OnnxPipeline(raw, list(model["features"]), model["feature_types"], model["task"])


def _verified_bytes(db: Database, signer: Signer, model: dict[str, Any], file_id: Any) -> bytes:
    refuse_if_quarantined("model", model)
    try:
        return ModelRepository(db, signer).artifacts.read(file_id)
    except IntegrityError as error:
        raise quarantine(db, "model", model, error) from None
