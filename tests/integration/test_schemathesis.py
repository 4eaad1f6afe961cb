"""Fuzzing the whole HTTP API with schemathesis: zero server errors, with an admin key.

Cases come from the OpenAPI document itself, valid ones (positive) and invalid ones
(negative), a bounded number per operation. They run against a second API process on
the stack's servers with a database of its own and a Redis database no worker reads,
so the fuzzing neither trains jobs nor touches the other tests' data.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from app import create_app
from localstack import LocalStack

_DOCUMENT = (
    create_app({"artifact_signing_key": "s" * 32, "mongodb_url": "mongodb://127.0.0.1:1"})
    .test_client()
    .get("/api/v1/docs/openapi.json")
    .get_json()
)
schema = schemathesis.openapi.from_dict(_DOCUMENT)
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=30,
    deterministic=True,
    with_security_parameters=False,
)


@pytest.fixture(scope="module")
def fuzz_api(
    stack: LocalStack, make_stack_config: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    """An API of its own (database ``tensorfleet_fuzz``, Redis db 1), limits off."""
    redis_db1 = stack.redis_url.rsplit("/", 1)[0] + "/1"
    config = make_stack_config(
        tmp_path_factory.mktemp("fuzz"),
        services=("api",),
        redis_url=redis_db1,
        mongodb_url=stack.mongodb_url,
        mongodb_db="tensorfleet_fuzz",
        artifact_signing_key=stack.artifact_signing_key,
        env={"RATE_LIMITS_ENABLED": "false"},
    )
    with LocalStack(config) as side:
        yield side


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_request_makes_a_server_error(case: Any, fuzz_api: LocalStack, tmp_path: Path) -> None:
    headers = {"Authorization": f"Bearer {fuzz_api.admin_key}"}
    case.call_and_validate(
        base_url=fuzz_api.api_url, headers=headers, checks=[not_a_server_error], timeout=30
    )
