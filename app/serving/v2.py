"""The Open Inference Protocol v2 (KServe, Triton, MLServer clients) ↔ our rows and answers.

Inputs: one tensor per feature column (``name`` = the column; MLServer's
``"parameters": {"content_type": "pd"}`` convention is the same), or a single 2-D
tensor ``[rows, features]`` in feature order.
"""

from __future__ import annotations

from typing import Any

from app.errors import ValidationError
from app.ml.preprocessing import NUMERIC
from app.serving.inputs import Table

DATATYPES = {"FP64", "FP32", "INT64", "INT32", "INT16", "INT8", "UINT8", "BOOL", "BYTES"}


def frame_from_v2(body: Any, features: list[str]) -> Table:
    """The rows of a v2 inference request, as columns."""
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list) or not inputs:
        raise ValidationError("A v2 request needs a non-empty 'inputs' list.", {"field": "inputs"})
    for tensor in inputs:
        if not isinstance(tensor, dict) or not isinstance(tensor.get("data"), list):
            raise ValidationError("Each input needs 'name', 'shape', 'datatype', 'data'.",
                                  {"field": "inputs"})  # fmt: skip
        if tensor.get("datatype") not in DATATYPES:
            raise ValidationError(
                "Unknown datatype.", {"field": "inputs.datatype", "allowed": sorted(DATATYPES)}
            )
    if len(inputs) == 1 and inputs[0].get("name") not in features:
        return _from_matrix(inputs[0], features)
    lengths = {len(t["data"]) for t in inputs}
    if len(lengths) != 1:
        raise ValidationError("Every input tensor needs the same length.", {"field": "inputs"})
    return {str(t.get("name")): list(t["data"]) for t in inputs}


def _from_matrix(tensor: dict[str, Any], features: list[str]) -> Table:
    shape, data = tensor.get("shape"), tensor["data"]
    if not (isinstance(shape, list) and len(shape) == 2 and shape[1] == len(features)):
        raise ValidationError(
            f"A single input must have shape [rows, {len(features)}] (features in order),"
            " or send one input per feature column.",
            {"field": "inputs.shape", "columns": features},
        )
    flat = [v for row in data for v in row] if data and isinstance(data[0], list) else data
    if not isinstance(shape[0], int) or len(flat) != shape[0] * shape[1]:
        raise ValidationError("The data does not fill the shape.", {"field": "inputs.data"})
    width = shape[1]
    return {feature: flat[j::width] for j, feature in enumerate(features)}


def output_tensor(name: str, values: list[Any]) -> dict[str, Any]:
    """A v2 output tensor for a list of predictions (or of probability rows)."""
    matrix = bool(values) and isinstance(values[0], list)
    flat = [v for row in values for v in row] if matrix else values
    shape = [len(values), len(values[0])] if matrix else [len(values)]
    if all(isinstance(v, bool) for v in flat):
        datatype = "BOOL"
    elif all(isinstance(v, int) and not isinstance(v, bool) for v in flat):
        datatype = "INT64"
    elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in flat):
        datatype = "FP64"
    else:
        datatype, flat = "BYTES", [str(v) for v in flat]
    return {"name": name, "shape": shape, "datatype": datatype, "data": flat}


def metadata(model: dict[str, Any], types: dict[str, str], versions: list[int]) -> dict[str, Any]:
    """``GET /v2/models/<name>``: the inputs (one per feature) and the outputs."""
    inputs = [
        {"name": f, "datatype": "FP64" if types.get(f) == NUMERIC else "BYTES", "shape": [-1]}
        for f in model["features"]
    ]
    classes = model.get("classes") or []
    label = output_tensor("predict", classes[:1])["datatype"] if classes else "FP64"
    outputs = [{"name": "predict", "datatype": label, "shape": [-1]}]
    if model["task"] == "classification":
        outputs.append({"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(classes)]})
    return {
        "name": model["name"],
        "versions": [str(v) for v in versions],
        "platform": "sklearn",
        "inputs": inputs,
        "outputs": outputs,
        "parameters": {"model_id": model["_id"], "version": model["version"]},
    }
