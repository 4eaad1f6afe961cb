"""Helpers of the API tests: uploads and Prometheus samples."""

from __future__ import annotations

import io

from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import TestResponse

TOY = b"a,b,label\n" + b"".join(
    f"{i},{i % 3},{'yes' if i % 2 else 'no'}\n".encode() for i in range(40)
)


def upload(
    client: FlaskClient,
    content: bytes,
    name: str = "toy",
    target: str = "label",
    headers: dict[str, str] | None = None,
    **extra: str,
) -> TestResponse:
    """POST a CSV to /api/v1/datasets as multipart form data."""
    data = {"file": (io.BytesIO(content), "toy.csv"), "name": name, "target": target, **extra}
    return client.post(
        "/api/v1/datasets", data=data, content_type="multipart/form-data", headers=headers
    )


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a Prometheus exposition: (name, sorted labels) → value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
