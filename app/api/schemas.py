"""Request and response models of the HTTP API (pydantic; they also feed the OpenAPI doc)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.services.jobs import NAME_PATTERN, JobRequest
from app.services.keys import KeyRequest
from app.services.registry import AliasMove, ModelPatch
from app.statuses import JobStatus

__all__ = [
    "AliasMove",
    "JobRequest",
    "KeyRequest",
    "ModelPatch",
]  # request bodies that are the services' own models


class PageQuery(BaseModel):
    """``page`` (from 1) and ``limit`` of a list endpoint."""

    model_config = ConfigDict(extra="forbid")

    page: int = Field(1, ge=1, le=100_000)
    limit: int = Field(20, ge=1, le=100)


class JobListQuery(PageQuery):
    """Filters of ``GET /api/v1/jobs``."""

    kind: Literal["train", "predict", "trial"] | None = None
    search_id: str | None = Field(None, max_length=64)
    status: JobStatus | None = None
    model_name: str | None = None
    dataset: str | None = None
    algorithm: str | None = None


class JobGetQuery(BaseModel):
    """``?wait=SECONDS``: block until the job ends or the time passes (long polling)."""

    model_config = ConfigDict(extra="forbid")

    wait: float = Field(0, ge=0, le=300)


class ModelListQuery(PageQuery):
    """Filters and order of ``GET /api/v1/models``; ``tag.<key>=<value>`` filters by tag."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    algorithm: str | None = None
    dataset: str | None = None
    alias: str | None = Field(None, description="Only versions this alias points at.")
    min_score: float | None = Field(None, ge=-1e12, le=1e12)
    created_after: datetime | None = None
    created_before: datetime | None = None
    sort: Literal["-created_at", "created_at", "-score", "score", "name", "-version"] = (
        "-created_at"
    )

    @model_validator(mode="after")
    def _only_tag_extras(self) -> ModelListQuery:
        for key in self.model_extra or {}:
            if not key.startswith("tag.") or len(key) == 4:
                raise ValueError(f"unknown query parameter {key!r}")
        return self

    @property
    def tags(self) -> dict[str, str]:
        """The ``tag.<key>=<value>`` filters."""
        return {k[4:]: str(v) for k, v in (self.model_extra or {}).items()}


class DownloadQuery(BaseModel):
    """``?format=joblib`` (default) or ``onnx``."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["joblib", "onnx"] = "joblib"


class DriftQuery(BaseModel):
    """``?since=&until=`` (ISO 8601; naive times are UTC): the window of logged prediction
    inputs a drift check reads (default: the 24 hours up to now)."""

    model_config = ConfigDict(extra="forbid")

    since: datetime | None = None
    until: datetime | None = None


class AliasListQuery(PageQuery):
    """``?history=true``: the append-only history instead of the current aliases."""

    history: bool = False


class DatasetGetQuery(BaseModel):
    """``?version=N`` of ``GET /api/v1/datasets/<name>``; default the latest."""

    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(None, ge=1, le=2**31 - 1)


class DatasetForm(BaseModel):
    """Multipart form of ``POST /api/v1/datasets`` (plus the ``file`` part, a CSV)."""

    name: str = Field(pattern=NAME_PATTERN)
    target: str = Field(min_length=1)
    description: str = Field("", max_length=2000)


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer."""

    error: dict[str, Any] = Field(examples=[{"code": "not_found", "message": "...", "details": {}}])


class Job(BaseModel):
    """A job as the API shows it (``kind`` train or predict)."""

    job_id: str
    kind: Literal["train", "predict", "trial"] = "train"
    status: JobStatus
    dataset: str
    dataset_version: int
    algorithm: str
    model_name: str
    hyperparameters: dict[str, Any]
    progress: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    worker: str | None
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    model: dict[str, Any] | None = None  # predict: the pinned model {id, name, version}


class JobPage(BaseModel):
    """One page of jobs, newest first."""

    items: list[Job]
    page: int
    limit: int
    total: int


class KeyListQuery(PageQuery):
    """``GET /api/v1/keys``: ``?include_revoked=true`` lists revoked keys too."""

    include_revoked: bool = False


class ApiKey(BaseModel):
    """An API key as listed (never its secret)."""

    id: str
    name: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    created_by: str | None


class ApiKeyCreated(ApiKey):
    """A new key: ``key`` is the secret, shown this once."""

    key: str


class AuditQuery(PageQuery):
    """Filters of ``GET /api/v1/audit``: by key id, time range and status."""

    key: str | None = Field(None, description="A key id (`key_…`).")
    since: datetime | None = None
    until: datetime | None = None
    status: int | None = Field(None, ge=100, le=599)
