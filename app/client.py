"""A small Python client of the TensorFleet HTTP API (``requests``).

from app.client import TensorFleetClient
fleet = TensorFleetClient("http://127.0.0.1:8000", api_key="tf_…")
job = fleet.submit_job("iris", "random_forest", hyperparameters={"n_estimators": 50})
job = fleet.wait(job["job_id"], timeout=120)
fleet.set_alias("iris_random_forest", "champion", job["result"]["version"])
fleet.predict("iris_random_forest@champion", [{"sepal_length": 5.1, ...}], proba=True)
fleet.download_model("iris_random_forest@champion", "iris_rf.joblib")
search = fleet.submit_search("iris", "knn", {"n_neighbors": [1, 5, 15]}, strategy="grid",
                             cv=3, budget={"trials": 3, "parallelism": 2})
search = fleet.wait_search(search["search_id"], timeout=600)  # best: model_id, version

A model is named by a *reference* everywhere: its id, ``<name>@<alias>``,
``<name>@v<version>`` or ``<name>@latest``.

Every submit and upload carries an ``Idempotency-Key``, and is retried with the same
key after a dropped connection, so a retry never makes a second job. Downloads are
checked against the SHA-256 the server sends; a mismatch is refused and nothing is
saved. The client needs ``requests`` only; pandas DataFrames are accepted where rows
are, when pandas is installed.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import requests

from app.statuses import ACTIVE, FINISHED

SUBMIT_ATTEMPTS = 3
CHUNK = 1024 * 1024
# The bodies of POST /models/<ref>/predict (MLflow's scoring formats): exactly one key.
PREDICT_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_FILENAME = re.compile(r"""filename\*?=(?:UTF-8'')?"?([^";]+)"?""", re.IGNORECASE)


class APIError(Exception):
    """An error answer of the API: ``status``, ``code``, ``message``, ``details``."""

    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(f"{status} {error.get('code')}: {error.get('message')}")
        self.status = status
        self.code = error.get("code")
        self.message = error.get("message")
        self.details = error.get("details", {})


class IntegrityError(Exception):
    """A downloaded file does not have the SHA-256 the server announced."""


class FormatError(Exception):
    """The server sent another file format than the one asked for (a server too old to
    know ``?format=``); nothing was saved."""


def _segment(value: str | int) -> str:
    """``value`` as one path segment (``@`` kept: model references read as typed)."""
    return quote(str(value), safe="@")


def _plain(value: Any) -> Any:
    """``value`` as plain JSON: numpy scalars and arrays unboxed, NaN and pandas' NA/NaT as
    null (a missing value), dates as ISO 8601; ValueError for an infinity."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            raise ValueError("JSON has no infinity: send a finite number or null")
        return value
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    pandas = sys.modules.get("pandas")
    if pandas is not None and (value is pandas.NaT or value is pandas.NA):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return _plain(value.tolist())
    raise TypeError(f"cannot send a {type(value).__name__} as JSON")


def _is_dataframe(rows: Any) -> bool:
    """Whether ``rows`` is a pandas DataFrame (without importing pandas)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(rows, pandas.DataFrame)


def predict_body(rows: Any) -> dict[str, Any]:
    """The JSON body of a prediction for ``rows``:

    * a pandas DataFrame → ``dataframe_split`` (its columns and rows);
    * a list of dicts (one per row, column → value) → ``dataframe_records``;
    * a list of lists (values in the model's feature order) → ``instances``;
    * a dict with one of ``dataframe_split``, ``dataframe_records``, ``instances``,
      ``inputs`` → sent as it is (an MLflow scoring body);
    * any other dict → one row.
    """
    if _is_dataframe(rows):
        split = rows.to_dict(orient="split", index=False)
        return _plain({"dataframe_split": {"columns": split["columns"], "data": split["data"]}})
    if isinstance(rows, Mapping):
        if any(key in rows for key in PREDICT_FORMATS):
            return _plain(rows)
        return {"dataframe_records": [_plain(rows)]}
    if isinstance(rows, Sequence) and not isinstance(rows, str | bytes):
        rows = list(rows)
        if rows and all(isinstance(row, Mapping) for row in rows):
            return {"dataframe_records": _plain(rows)}
        if rows and all(isinstance(row, Sequence) and not isinstance(row, str) for row in rows):
            return {"instances": _plain(rows)}
        if not rows:
            return {"dataframe_records": []}
    raise TypeError(
        "rows must be a pandas DataFrame, a list of dicts, a list of lists or an MLflow body"
    )


def _attachment_name(disposition: str) -> str | None:
    """The file name of a ``Content-Disposition`` header, without any directory."""
    found = _FILENAME.search(disposition or "")
    name = Path(found[1].strip()).name if found else ""
    return name if name not in ("", ".", "..") else None


class TensorFleetClient:
    """Calls ``/api/v1`` of one TensorFleet deployment with one API key.

    Every method raises :class:`APIError` for an error answer (``status``, ``code``,
    ``message``, ``details``) and ``requests.RequestException`` when the server cannot
    be reached.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        session: requests.Session | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()
        if api_key:
            self.session.headers["Authorization"] = f"Bearer {api_key}"
        self.timeout = timeout

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        response = self.session.request(method, f"{self.base_url}/api/v1{path}", **kwargs)
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                error = {"code": "http_error", "message": response.text[:200]}
            finally:
                response.close()
            raise APIError(response.status_code, error)
        return response

    def _create(self, path: str, **kwargs: Any) -> dict[str, Any]:
        """POST with an Idempotency-Key, retried with the same key if the connection drops."""
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        for attempt in range(1, SUBMIT_ATTEMPTS + 1):
            try:
                return self._call("POST", path, headers=headers, **kwargs).json()
            except requests.ConnectionError:
                if attempt == SUBMIT_ATTEMPTS:
                    raise
                time.sleep(0.5 * attempt)
                for handle in kwargs.get("files", {}).values():
                    handle[1].seek(0)
        raise AssertionError("unreachable")

    # jobs

    def submit_job(self, dataset: str, algorithm: str, **options: Any) -> dict[str, Any]:
        """Queue a training job; ``options`` are the other body fields (hyperparameters, …)."""
        return self._create("/jobs", json={"dataset": dataset, "algorithm": algorithm, **options})

    def submit_prediction_job(
        self,
        model: str,
        dataset: str,
        dataset_version: int | None = None,
        proba: bool = False,
        **options: Any,
    ) -> dict[str, Any]:
        """Queue a batch prediction: every row of ``dataset`` (its latest version unless
        ``dataset_version``) through the model ``model`` (any reference, e.g.
        ``churn@champion``). The job ends with ``result`` ``{"rows", "invalid_rows",
        "row_errors", …}``; :meth:`download_output` fetches the predictions as CSV."""
        body: dict[str, Any] = {"kind": "predict", "model": model, "dataset": dataset}
        if dataset_version is not None:
            body["dataset_version"] = dataset_version
        return self._create("/jobs", json={**body, "proba": proba, **options})

    def get_job(self, job_id: str, wait: float = 0) -> dict[str, Any]:
        """A job; with ``wait`` the server holds the answer until it ends (at most ``wait`` s)."""
        params = {"wait": wait} if wait else None
        return self._call(
            "GET", f"/jobs/{_segment(job_id)}", params=params, timeout=self.timeout + wait
        ).json()

    def wait(self, job_id: str, timeout: float = 600, poll: float = 20) -> dict[str, Any]:
        """Block until the job ends (long polling, ``poll`` s per request) or ``timeout``."""
        deadline = time.monotonic() + timeout
        job = self.get_job(job_id)
        while job["status"] not in FINISHED and (left := deadline - time.monotonic()) > 0:
            job = self.get_job(job_id, wait=min(poll, left))
        return job

    def list_jobs(self, **filters: Any) -> dict[str, Any]:
        """A page of jobs (``status``, ``model_name``, ``search_id`` (a search's trials and
        refit), ``page``, ``limit`` …)."""
        return self._call("GET", "/jobs", params=filters).json()

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        """Ask a job to stop."""
        return self._call("POST", f"/jobs/{_segment(job_id)}/cancel").json()

    def download_output(self, job_id: str, path: str | Path) -> Path:
        """Stream the CSV a finished batch prediction job wrote to ``path`` (a file, or a
        directory to save it under the server's file name), checking its SHA-256."""
        return self._download(
            f"/jobs/{_segment(job_id)}/output", path, f"Output of job {job_id}", f"{job_id}.csv"
        )

    # hyperparameter searches

    def submit_search(
        self,
        dataset: str,
        algorithm: str,
        space: Mapping[str, Any],
        strategy: str = "random",
        **options: Any,
    ) -> dict[str, Any]:
        """Start a hyperparameter search of ``algorithm`` on ``dataset``; returns the search
        (``search_id``, ``status`` ``"running"``, ``progress``, …).

        ``space`` maps each hyperparameter to a list of values (``[1, 5, 15]``; numpy
        arrays and tuples are sent as lists) or a range ``{"low", "high", "log", "type":
        "int" | "float"}``; ``strategy`` is ``"grid"`` (every combination; lists only),
        ``"random"``, ``"halving"`` (successive halving over ``trials`` random draws) or
        ``"bayesian"`` (Optuna's TPE). ``options`` are the other body fields: ``fixed``
        (values every trial shares), ``metric``, ``cv`` (folds, 0: the hold-out split),
        ``budget`` (``{"trials", "parallelism", "max_seconds"}``), ``model_name``,
        ``promote`` (an alias moved to the best version), ``keep`` (``"best"`` or
        ``"all"``), ``halving`` (``{"factor", "min_resources"}``), ``random_state``,
        ``dataset_version``, ``target``, ``test_size``. The whole space is checked first: a
        bad one is an :class:`APIError` 400 whose ``details["field"]`` names it
        (``"space.n_neighbors"``, ``"metric"``, ``"budget.trials"`` …) and nothing is
        queued."""
        body = {
            "dataset": dataset,
            "algorithm": algorithm,
            "strategy": strategy,
            "space": space,
            **options,
        }
        return self._create("/searches", json=_plain(body))

    def get_search(self, search_id: str) -> dict[str, Any]:
        """A search: ``status`` (``running``, ``succeeded``, ``failed``, ``cancelled``),
        ``progress`` (``total``, ``queued``, ``running``, ``succeeded``, ``failed``,
        ``cancelled`` trials), ``best`` (``trial``, ``params``, ``score``, ``score_std``,
        and once registered ``model_id``, ``version``; or None), ``leaderboard`` (the 10
        best succeeded trials, best first), ``metric``, ``model_name``, ``error``, times."""
        return self._call("GET", f"/searches/{_segment(search_id)}").json()

    def list_searches(self, **filters: Any) -> dict[str, Any]:
        """A page of searches, newest first. Filters: ``status``, ``model_name``,
        ``dataset``, ``strategy``, ``page``, ``limit`` (None values are left out)."""
        params = {k: v for k, v in filters.items() if v is not None}
        return self._call("GET", "/searches", params=params).json()

    def search_trials(
        self, search_id: str, sort: str = "-score", page: int = 1, limit: int = 20
    ) -> dict[str, Any]:
        """A page (``items``, ``page``, ``limit``, ``total``) of a search's trials, each with
        ``trial``, ``job_id``, ``status``, ``params``, ``hyperparameters``,
        ``fold_scores``, ``score`` (their mean), ``score_std``, ``fit_time``, ``worker``,
        ``error``. ``sort``: ``-score`` (best first, whatever the metric's direction),
        ``score``, ``trial``, ``-trial``, ``fit_time``, ``-fit_time``; trials without a
        value (not run yet, failed) come last."""
        params = {"sort": sort, "page": page, "limit": limit}
        return self._call("GET", f"/searches/{_segment(search_id)}/trials", params=params).json()

    def cancel_search(self, search_id: str) -> dict[str, Any]:
        """Stop a search: its queued and running trials are cancelled, finished ones kept;
        returns the search, ``cancelled``. An :class:`APIError` 409 if it had ended."""
        return self._call("POST", f"/searches/{_segment(search_id)}/cancel").json()

    def wait_search(
        self,
        search_id: str,
        timeout: float = 3600,
        poll: float = 2.0,
        on_progress: Callable[[dict[str, Any]], Any] | None = None,
    ) -> dict[str, Any]:
        """Poll the search every ``poll`` s until it is no longer running (then it has
        ``best`` with the registered ``model_id`` and ``version`` if it succeeded) or
        ``timeout`` s have passed; returns the last search seen, whatever its status.
        ``on_progress(search)`` is called with every search fetched, the first and the
        last included."""
        deadline = time.monotonic() + timeout
        search = self.get_search(search_id)
        while True:
            if on_progress is not None:
                on_progress(search)
            left = deadline - time.monotonic()
            if search["status"] not in ACTIVE or left <= 0:
                return search
            time.sleep(min(poll, left))
            search = self.get_search(search_id)

    # datasets

    def upload_dataset(
        self, path: str | Path, name: str, target: str, description: str = ""
    ) -> dict[str, Any]:
        """Upload a CSV as the next version of dataset ``name``."""
        with open(path, "rb") as handle:
            files = {"file": (Path(path).name, handle, "text/csv")}
            data = {"name": name, "target": target, "description": description}
            return self._create("/datasets", files=files, data=data)

    # the model registry

    def list_models(self, tags: Mapping[str, str] | None = None, **filters: Any) -> dict[str, Any]:
        """A page of models, each with its aliases. Filters: ``name``, ``algorithm``,
        ``dataset``, ``alias`` (only the versions that alias points at), ``min_score``,
        ``created_after`` / ``created_before`` (ISO 8601), ``tags`` (``{"team": "risk"}``
        → ``tag.team=risk``, every one must match); ``sort`` (``-created_at`` by default,
        ``created_at``, ``-score``, ``score``, ``name``, ``-version``), ``page``, ``limit``."""
        params = {k: v for k, v in filters.items() if v is not None}
        params.update({f"tag.{key}": value for key, value in (tags or {}).items()})
        return self._call("GET", "/models", params=params).json()

    def get_model(self, ref: str) -> dict[str, Any]:
        """One model version by reference (``churn@champion``, ``churn@v3``,
        ``churn@latest`` or an id): metrics, hyperparameters, lineage, aliases, tags."""
        return self._call("GET", f"/models/{_segment(ref)}").json()

    def update_model(
        self,
        ref: str,
        tags: Mapping[str, str | None] | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Set tags (merged into the model's; a ``None`` value removes that tag) and/or the
        description of a model version; returns the updated model."""
        body: dict[str, Any] = {}
        if tags is not None:
            body["tags"] = dict(tags)
        if description is not None:
            body["description"] = description
        if not body:
            raise ValueError("update_model needs tags or a description")
        return self._call("PATCH", f"/models/{_segment(ref)}", json=body).json()

    def delete_model(self, ref: str) -> None:
        """Delete a model version (document and file; needs an admin key). Refused with a
        409 while an alias points at it; its version number is never reused."""
        self._call("DELETE", f"/models/{_segment(ref)}").close()

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int,
        gate: str | Mapping[str, Any] | None = None,
        min_delta: float = 0.0,
    ) -> dict[str, Any]:
        """Point ``name@alias`` at ``version`` (creating the alias if need be); returns the
        alias. With ``gate`` (a metric name such as ``"f1_macro"``, then ``min_delta``
        applies, or a dict ``{"metric", "min_delta"}``) the server refuses, with an
        :class:`APIError` 409 naming both scores, a version that scores less than the one
        the alias holds plus ``min_delta``. Protected aliases (``champion``,
        ``production`` by default) need an admin key."""
        body: dict[str, Any] = {"version": version}
        if isinstance(gate, str):
            body["gate"] = {"metric": gate, "min_delta": min_delta}
        elif gate is not None:
            body["gate"] = dict(gate)
        return self._call(
            "PUT", f"/models/{_segment(name)}/aliases/{_segment(alias)}", json=body
        ).json()

    def remove_alias(self, name: str, alias: str) -> None:
        """Delete ``name@alias`` (the versions stay); 404 if there is none."""
        self._call("DELETE", f"/models/{_segment(name)}/aliases/{_segment(alias)}").close()

    def list_aliases(
        self, name: str, history: bool = False, page: int | None = None, limit: int | None = None
    ) -> dict[str, Any]:
        """The current aliases of model ``name`` (a page: ``items`` of ``{"alias",
        "version", "model_id", …}``), or with ``history`` every move, newest first
        (``from_version``, ``to_version``, ``by``, …)."""
        params: dict[str, Any] = {"history": "true"} if history else {}
        params.update({k: v for k, v in (("page", page), ("limit", limit)) if v is not None})
        return self._call("GET", f"/models/{_segment(name)}/aliases", params=params).json()

    def download_model(self, ref: str, path: str | Path, format: str = "joblib") -> Path:
        """Stream a model's file to ``path`` (a file, or a directory to save it as the
        server names it, ``<name>-v<version>.<format>``), checking its SHA-256; returns
        the path. ``ref`` is any model reference (id, ``churn@champion``, ``churn@v3``);
        ``format`` is ``"joblib"`` (the scikit-learn pipeline) or ``"onnx"``. An error
        answer, a checksum mismatch (:class:`IntegrityError`) or another format than
        asked (:class:`FormatError`) leaves nothing at ``path``.

        Load joblib files only from a server you trust: unpickling runs code.
        """
        params = {"format": format} if format != "joblib" else None
        return self._download(
            f"/models/{_segment(ref)}/download",
            path,
            f"Model {ref}",
            f"{ref.replace('@', '-')}.{format}",
            params=params,
            suffix=f".{format}" if params else None,
        )

    # predictions

    def predict(
        self, ref: str, rows: Any, proba: bool = False, engine: str | None = None
    ) -> dict[str, Any]:
        """Predict ``rows`` with the model ``ref`` (e.g. ``churn@champion``): a list of dicts
        (column → value), a pandas DataFrame, a list of value lists in feature order, or
        an MLflow scoring body (see :func:`predict_body`). Returns ``{"predictions",
        "model": {"id", "name", "version"}, "engine"}``, plus ``classes`` and
        ``probabilities`` (one list per row, in ``classes`` order) with ``proba`` for a
        classifier. ``engine`` (``"sklearn"`` or ``"onnx"``) picks the runtime when the
        server offers more than one. NaN and pandas' missing values are sent as null."""
        data = json.dumps(predict_body(rows), allow_nan=False).encode()
        return self._predict(ref, data, "application/json", proba, engine)

    def predict_csv(
        self,
        ref: str,
        csv: str | Path | bytes | IO[bytes],
        proba: bool = False,
        engine: str | None = None,
    ) -> dict[str, Any]:
        """Predict the rows of a CSV (header first) with the model ``ref``: ``csv`` is a
        path, the CSV's bytes or an open binary file (streamed). Same answer as
        :meth:`predict`."""
        if isinstance(csv, bytes | bytearray):
            return self._predict(ref, bytes(csv), "text/csv", proba, engine)
        if isinstance(csv, str | Path):
            with open(csv, "rb") as handle:
                return self._predict(ref, handle, "text/csv", proba, engine)
        return self._predict(ref, csv, "text/csv", proba, engine)

    def _predict(
        self, ref: str, data: bytes | IO[bytes], mimetype: str, proba: bool, engine: str | None
    ) -> dict[str, Any]:
        params: dict[str, str] = {"proba": "true"} if proba else {}
        if engine:
            params["engine"] = engine
        return self._call(
            "POST",
            f"/models/{_segment(ref)}/predict",
            params=params,
            data=data,
            headers={"Content-Type": mimetype},
        ).json()

    # downloads

    def _download(
        self,
        path: str,
        to: str | Path,
        what: str,
        fallback_name: str,
        params: dict[str, str] | None = None,
        suffix: str | None = None,
    ) -> Path:
        """Stream ``GET path`` to ``to`` through a temporary file beside it, renamed into
        place only once its SHA-256 matches ``X-Checksum-SHA256``."""
        response = self._call("GET", path, params=params, stream=True)
        with response:
            expected = response.headers.get("X-Checksum-SHA256", "")
            name = _attachment_name(response.headers.get("Content-Disposition", ""))
            if suffix and name and not name.endswith(suffix):
                raise FormatError(
                    f"{what}: asked for a {suffix} file, the server sent {name}"
                    " (it does not offer that format); nothing was saved."
                )
            target = Path(to)
            if target.is_dir():
                target = target / (name or Path(fallback_name).name)
            partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
            digest = hashlib.sha256()
            try:
                with partial.open("wb") as out:
                    for chunk in response.iter_content(chunk_size=CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                if not expected or digest.hexdigest() != expected.lower():
                    raise IntegrityError(
                        f"{what}: the file's SHA-256 {digest.hexdigest()} is not the"
                        f" announced {expected or '(none)'}; nothing was saved."
                    )
                partial.replace(target)
            finally:
                partial.unlink(missing_ok=True)
        return target
