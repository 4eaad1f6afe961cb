"""The Python client of the TensorFleet HTTP API: one method per endpoint.

from tensorfleet import TensorFleetClient
fleet = TensorFleetClient("http://127.0.0.1:8000", api_key="tf_…")  # or .from_env()
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

Every submit and upload carries an ``Idempotency-Key`` and is retried with the same key
(after a dropped connection or a 503), so a retry never makes a second job; see
:mod:`tensorfleet.transport` for what else is retried. Downloads are checked against the
SHA-256 the server sends; a mismatch is refused and nothing is saved. The client needs
``requests`` only; pandas DataFrames are accepted where rows are, when pandas is installed.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from tensorfleet.bodies import plain, predict_body, segment, without_none
from tensorfleet.downloads import save_checked
from tensorfleet.statuses import ACTIVE, FINISHED
from tensorfleet.transport import DEFAULT_URL, Transport

URL_VARIABLE, KEY_VARIABLE = "TENSORFLEET_URL", "TENSORFLEET_API_KEY"
Progress = Callable[[dict[str, Any]], Any]


def _when(value: str | datetime | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


class TensorFleetClient(Transport):
    """Calls ``/api/v1`` of one TensorFleet deployment with one API key.

    Every method raises :class:`~tensorfleet.errors.APIError` for an error answer
    (``status``, ``code``, ``message``, ``details``),
    :class:`~tensorfleet.errors.UnexpectedResponseError` for an answer that is not the
    API's (a wrong URL), and :class:`~tensorfleet.errors.UnreachableError` (a
    ``requests.ConnectionError``) when the server cannot be reached after the retries.
    """

    # the constructor is Transport's: (base_url, api_key, session, timeout, retry)

    @classmethod
    def from_env(cls, **options: Any) -> TensorFleetClient:
        """A client of ``$TENSORFLEET_URL`` (default ``http://127.0.0.1:8000``) with the key
        ``$TENSORFLEET_API_KEY``; ``options`` as for the constructor."""
        url = os.environ.get(URL_VARIABLE) or DEFAULT_URL
        return cls(url, api_key=os.environ.get(KEY_VARIABLE) or None, **options)

    def __enter__(self) -> TensorFleetClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _get(self, path: str, params: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        return self._json(self._call("GET", path, params=without_none(params or {}), **kwargs))

    def _create(self, path: str, **kwargs: Any) -> dict[str, Any]:
        """POST with an Idempotency-Key: a retry (see the transport) sends the same key."""
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        return self._json(self._call("POST", path, headers=headers, **kwargs))

    # health

    def health(self) -> dict[str, Any]:
        """``GET /health``: ``{"status": "ok"}`` while the API process is alive."""
        return self._json(self._call("GET", "/health", api=False))

    def ready(self) -> dict[str, Any]:
        """``GET /ready``: ``{"status": "ready", "redis": "ok", "mongodb": "ok"}``; a 503
        (:class:`~tensorfleet.errors.APIError` after the retries) names what is down."""
        return self._json(self._call("GET", "/ready", api=False))

    # jobs

    def submit_job(self, dataset: str, algorithm: str, **options: Any) -> dict[str, Any]:
        """Queue a training job; ``options`` are the other body fields (``hyperparameters``,
        ``model_name``, ``dataset_version``, ``target``, ``test_size``, ``random_state``)."""
        body = {"dataset": dataset, "algorithm": algorithm, **options}
        return self._create("/jobs", json=plain(body))

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
        return self._get(f"/jobs/{segment(job_id)}", params, timeout=self.timeout + wait)

    def wait(
        self,
        job_id: str,
        timeout: float = 600,
        poll: float = 20,
        on_progress: Progress | None = None,
    ) -> dict[str, Any]:
        """Block until the job ends (long polling, at most ``poll`` s per request) or
        ``timeout`` s have passed; returns the last job seen, whatever its status (check
        ``status`` in :data:`~tensorfleet.statuses.FINISHED`). ``on_progress(job)`` is
        called with every job fetched, the first and the last included."""
        deadline = time.monotonic() + timeout
        job = self.get_job(job_id)
        while True:
            if on_progress is not None:
                on_progress(job)
            left = deadline - time.monotonic()
            if job["status"] in FINISHED or left <= 0:
                return job
            job = self.get_job(job_id, wait=min(poll, left))

    def list_jobs(self, **filters: Any) -> dict[str, Any]:
        """A page of jobs, newest first. Filters: ``status``, ``kind`` (``train``,
        ``predict``, ``trial``), ``model_name``, ``dataset``, ``algorithm``, ``search_id`` (a
        search's trials and refit), ``page``, ``limit`` (None values are left out)."""
        return self._get("/jobs", filters)

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        """Ask a job to stop; a 409 if it had already ended."""
        return self._json(self._call("POST", f"/jobs/{segment(job_id)}/cancel"))

    def download_output(self, job_id: str, path: str | Path) -> Path:
        """Stream the CSV a finished batch prediction job wrote to ``path`` (a file, or a
        directory to save it under the server's file name), checking its SHA-256."""
        response = self._call("GET", f"/jobs/{segment(job_id)}/output", stream=True)
        return save_checked(response, path, f"Output of job {job_id}", f"{job_id}.csv")

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
        return self._create("/searches", json=plain(body))

    def get_search(self, search_id: str) -> dict[str, Any]:
        """A search: ``status`` (``running``, ``succeeded``, ``failed``, ``cancelled``),
        ``progress`` (``total``, ``queued``, ``running``, ``succeeded``, ``failed``,
        ``cancelled`` trials), ``best`` (``trial``, ``params``, ``score``, ``score_std``,
        and once registered ``model_id``, ``version``; or None), ``leaderboard`` (the 10
        best succeeded trials, best first), ``metric``, ``model_name``, ``error``, times."""
        return self._get(f"/searches/{segment(search_id)}")

    def list_searches(self, **filters: Any) -> dict[str, Any]:
        """A page of searches, newest first. Filters: ``status``, ``model_name``,
        ``dataset``, ``strategy``, ``page``, ``limit`` (None values are left out)."""
        return self._get("/searches", filters)

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
        return self._get(f"/searches/{segment(search_id)}/trials", params)

    def cancel_search(self, search_id: str) -> dict[str, Any]:
        """Stop a search: its queued and running trials are cancelled, finished ones kept;
        returns the search, ``cancelled``. An :class:`APIError` 409 if it had ended."""
        return self._json(self._call("POST", f"/searches/{segment(search_id)}/cancel"))

    def wait_search(
        self,
        search_id: str,
        timeout: float = 3600,
        poll: float = 2.0,
        on_progress: Progress | None = None,
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
        """Upload a CSV as the next version of dataset ``name``; returns its metadata."""
        with open(path, "rb") as handle:
            files = {"file": (Path(path).name, handle, "text/csv")}
            data = {"name": name, "target": target, "description": description}
            return self._create("/datasets", files=files, data=data)

    def list_datasets(self, page: int | None = None, limit: int | None = None) -> dict[str, Any]:
        """A page of datasets by name, each its latest version (``versions`` counts them)."""
        return self._get("/datasets", {"page": page, "limit": limit})

    def get_dataset(self, name: str, version: int | None = None) -> dict[str, Any]:
        """One dataset version's metadata (the latest unless ``version``): task, target,
        features, column types, classes, ``targets`` (what each column implies), sha256."""
        return self._get(f"/datasets/{segment(name)}", {"version": version})

    def dataset_versions(
        self, name: str, page: int | None = None, limit: int | None = None
    ) -> dict[str, Any]:
        """A page of every version of dataset ``name``, newest first."""
        return self._get(f"/datasets/{segment(name)}/versions", {"page": page, "limit": limit})

    def delete_dataset(self, name: str, version: int | None = None) -> None:
        """Delete dataset ``name`` (every version, or only ``version``; an admin key). A 409
        for a built-in dataset or while an unfinished job uses it."""
        params = without_none({"version": version})
        self._call("DELETE", f"/datasets/{segment(name)}", params=params).close()

    # algorithms

    def list_algorithms(self) -> dict[str, Any]:
        """``{"items": [...]}``: every algorithm with its tasks, estimator classes and
        hyperparameters (types, defaults, constraints, fleet limits)."""
        return self._get("/algorithms")

    def get_algorithm(self, name: str) -> dict[str, Any]:
        """One algorithm's description (a 400 naming the known ones for an unknown name)."""
        return self._get(f"/algorithms/{segment(name)}")

    # the model registry

    def list_models(self, tags: Mapping[str, str] | None = None, **filters: Any) -> dict[str, Any]:
        """A page of models, each with its aliases. Filters: ``name``, ``algorithm``,
        ``dataset``, ``alias`` (only the versions that alias points at), ``min_score``,
        ``created_after`` / ``created_before`` (ISO 8601), ``tags`` (``{"team": "risk"}``
        → ``tag.team=risk``, every one must match); ``sort`` (``-created_at`` by default,
        ``created_at``, ``-score``, ``score``, ``name``, ``-version``), ``page``, ``limit``."""
        params = without_none(filters)
        params.update({f"tag.{key}": value for key, value in (tags or {}).items()})
        return self._get("/models", params)

    def get_model(self, ref: str) -> dict[str, Any]:
        """One model version by reference (``churn@champion``, ``churn@v3``,
        ``churn@latest`` or an id): metrics, hyperparameters, lineage, aliases, tags."""
        return self._get(f"/models/{segment(ref)}")

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
        return self._json(self._call("PATCH", f"/models/{segment(ref)}", json=body))

    def delete_model(self, ref: str) -> None:
        """Delete a model version (document and file; needs an admin key). Refused with a
        409 while an alias points at it; its version number is never reused."""
        self._call("DELETE", f"/models/{segment(ref)}").close()

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
        path = f"/models/{segment(name)}/aliases/{segment(alias)}"
        return self._json(self._call("PUT", path, json=body))

    def remove_alias(self, name: str, alias: str) -> None:
        """Delete ``name@alias`` (the versions stay); 404 if there is none."""
        self._call("DELETE", f"/models/{segment(name)}/aliases/{segment(alias)}").close()

    def list_aliases(
        self, name: str, history: bool = False, page: int | None = None, limit: int | None = None
    ) -> dict[str, Any]:
        """The current aliases of model ``name`` (a page: ``items`` of ``{"alias",
        "version", "model_id", …}``), or with ``history`` every move, newest first
        (``from_version``, ``to_version``, ``by``, …)."""
        params = {"history": "true" if history else None, "page": page, "limit": limit}
        return self._get(f"/models/{segment(name)}/aliases", params)

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
        response = self._call("GET", f"/models/{segment(ref)}/download", params=params, stream=True)
        return save_checked(
            response,
            path,
            f"Model {ref}",
            f"{ref.replace('@', '-')}.{format}",
            suffix=f".{format}" if params else None,
        )

    # predictions

    def predict(
        self, ref: str, rows: Any, proba: bool = False, engine: str | None = None
    ) -> dict[str, Any]:
        """Predict ``rows`` with the model ``ref`` (e.g. ``churn@champion``): a list of dicts
        (column → value), a pandas DataFrame, a list of value lists in feature order, or
        an MLflow scoring body (see :func:`~tensorfleet.bodies.predict_body`). Returns
        ``{"predictions", "model": {"id", "name", "version"}, "engine"}``, plus ``classes``
        and ``probabilities`` (one list per row, in ``classes`` order) with ``proba`` for a
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
        params = {"proba": "true" if proba else None, "engine": engine or None}
        response = self._call(
            "POST",
            f"/models/{segment(ref)}/predict",
            params=without_none(params),
            data=data,
            headers={"Content-Type": mimetype},
            retry=True,  # a prediction changes nothing: safe to send again
        )
        return self._json(response)

    def list_predictions(
        self, ref: str, limit: int | None = None, since: str | datetime | None = None
    ) -> dict[str, Any]:
        """The prediction log of model ``ref`` (sampled), newest first: ``items``, ``limit``."""
        params = {"limit": limit, "since": _when(since)}
        return self._get(f"/models/{segment(ref)}/predictions", params)

    def monitoring(
        self, name: str, window: float | None = None, version: int | None = None
    ) -> dict[str, Any]:
        """Drift of model ``name``'s recent inputs (the last ``window`` s, default an hour)
        against its training rows, per feature; ``version`` for one version only."""
        params = {"window": window, "version": version}
        return self._get(f"/models/{segment(name)}/monitoring", params)

    def drift(
        self, ref: str, since: str | datetime | None = None, until: str | datetime | None = None
    ) -> dict[str, Any]:
        """Whether model ``ref``'s logged inputs between ``since`` and ``until`` (ISO 8601 or
        datetimes; default the last 24 hours) drifted from its training rows: ``{"drift",
        "drifted_features", "checked_features", "share", "method", "features": {column:
        {"type", "test", "statistic", "p_value" or "distance", "threshold", "drift",
        "psi"}}, "window": {"since", "until", "rows", "truncated"}, "reference":
        {"dataset", "version", "rows", "split"}}``. An :class:`APIError` 409
        ``not_enough_data`` when fewer than 30 rows were logged in the window."""
        params = {"since": _when(since), "until": _when(until)}
        return self._get(f"/models/{segment(ref)}/drift", params)

    def infer_v2(
        self, name: str, request: Mapping[str, Any], version: int | None = None
    ) -> dict[str, Any]:
        """An Open Inference Protocol v2 request (``{"inputs": [{"name", "shape",
        "datatype", "data"}, …]}``) to model ``name`` (or one ``version``)."""
        path = f"/v2/models/{segment(name)}"
        path += f"/versions/{segment(version)}/infer" if version is not None else "/infer"
        response = self._call("POST", path, api=False, json=plain(request), retry=True)
        return self._json(response)

    # scheduled retraining

    def create_schedule(
        self,
        name: str,
        cron: str,
        job: dict[str, Any],
        timezone: str = "UTC",
        promote: dict[str, Any] | None = None,
        trigger: str = "always",
        paused: bool = False,
    ) -> dict[str, Any]:
        """Retrain on a cron: ``job`` is a training job or a search (with a ``strategy``)
        request; ``promote`` ``{"alias", "metric", "min_delta"}`` moves the alias to a new
        version that passes the gate; ``trigger="drift"`` fires only when inputs drifted."""
        body = {"name": name, "cron": cron, "timezone": timezone, "job": job,
                "promote": promote, "trigger": trigger, "paused": paused}  # fmt: skip
        return self._json(self._call("POST", "/schedules", json=body))

    def list_schedules(self, **filters: Any) -> dict[str, Any]:
        """A page of schedules by name (``paused``, ``page``, ``limit``)."""
        return self._get("/schedules", filters)

    def get_schedule(self, schedule_id: str) -> dict[str, Any]:
        """One schedule with its recent firings (``runs``)."""
        return self._get(f"/schedules/{segment(schedule_id)}")

    def update_schedule(self, schedule_id: str, **changes: Any) -> dict[str, Any]:
        """``paused=True`` pauses, ``False`` resumes; ``cron=`` or ``timezone=`` re-times."""
        return self._json(self._call("PATCH", f"/schedules/{segment(schedule_id)}", json=changes))

    def delete_schedule(self, schedule_id: str) -> None:
        """Delete a schedule (its jobs and models stay)."""
        self._call("DELETE", f"/schedules/{segment(schedule_id)}").close()

    # statistics

    def statistics(self) -> dict[str, Any]:
        """Models by algorithm and dataset, best and mean score per algorithm, jobs by status."""
        return self._get("/statistics")

    # API keys and the audit log (an admin key)

    def create_key(
        self, name: str, scopes: list[str], expires_at: str | datetime | None = None
    ) -> dict[str, Any]:
        """Create an API key with ``scopes`` (``read``, ``train``, ``predict``, ``admin``);
        the answer's ``key`` is the secret, shown this once."""
        body = {"name": name, "scopes": list(scopes), "expires_at": _when(expires_at)}
        return self._json(self._call("POST", "/keys", json=body))

    def list_keys(
        self, include_revoked: bool = False, page: int | None = None, limit: int | None = None
    ) -> dict[str, Any]:
        """A page of keys, newest first (never their secrets)."""
        params = {"include_revoked": "true" if include_revoked else None}
        return self._get("/keys", {**params, "page": page, "limit": limit})

    def get_key(self, key_id: str) -> dict[str, Any]:
        """One key's metadata: ``id``, ``name``, ``scopes``, ``created_at``, ``expires_at``,
        ``revoked_at``, ``created_by``."""
        return self._get(f"/keys/{segment(key_id)}")

    def revoke_key(self, key_id: str) -> None:
        """Revoke a key: from the next request on it is refused (401)."""
        self._call("DELETE", f"/keys/{segment(key_id)}").close()

    def list_audit(self, **filters: Any) -> dict[str, Any]:
        """A page of audit records, newest first. Filters: ``key`` (a key id), ``since``,
        ``until`` (ISO 8601), ``status``, ``page``, ``limit``."""
        return self._get("/audit", {k: _when(v) for k, v in filters.items()})
