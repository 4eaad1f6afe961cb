"""Hyperparameter searches spread over the fleet: submit, advance, cancel.

A search is validated whole before anything is queued (space, fixed values, metric,
budget), then its candidates become trial jobs (``kind: "trial"``) on the ``search``
queue. A grid or random search knows its candidates up front; a halving search its first
rung, each next rung being the best of the one before (``app.ml.halving``); a Bayesian
search asks Optuna's TPE for one candidate at a time, from the scores so far
(``app.ml.bayesian``). No chord and no worker waiting on others: every time a trial
ends, ``advance`` runs (in the worker that ran it, and on every supervisor tick for anything a lost
message left behind). It keeps ``parallelism`` trials in flight, and when every
candidate has ended it refits the best one as an ordinary training job (``refit``) that
registers the next version of ``model_name``; when that job ends, the search ends and
the ``promote`` alias moves to the new version. ``advance`` is idempotent: trial ids are
derived from the search and the candidate, so a duplicate delivery, a second advancer
or a crash at any point neither skips nor doubles a trial.
"""

from __future__ import annotations

import contextlib
import logging
import math
from datetime import timedelta
from typing import Any, Literal

import redis
from pydantic import BaseModel, ConfigDict, Field
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from app.errors import ConflictError, PermissionDeniedError, ValidationError
from app.ml import bayesian
from app.ml.halving import plan_rungs, smallest_resources
from app.ml.hyperparameters import DataShape, validate_hyperparameters
from app.ml.registry import get_algorithm
from app.ml.search_space import STRATEGIES, candidates, parse_space, ranking
from app.services.integrity import refuse_if_quarantined
from app.services.jobs import NAME_PATTERN, cancel_job, publish, target_profile
from app.services.keys import Principal
from app.services.registry import AliasMove, check_alias_name, move_alias
from app.statuses import ACTIVE, FINISHED
from app.storage.datasets import DatasetRepository
from app.storage.jobs import JobRepository, new_job_document, new_trial_job_document
from app.storage.mongo import utcnow
from app.storage.searches import SearchRepository, new_search_document, public_search
from app.tasks.celery_app import TensorFleetCelery

log = logging.getLogger(__name__)
LEADERBOARD = 10


class Budget(BaseModel):
    """How much a search may do: ``trials`` in all, ``parallelism`` at once, for at most
    ``max_seconds`` (then it ends with the best so far)."""

    model_config = ConfigDict(extra="forbid")

    trials: int = Field(20, ge=1, le=1000)
    parallelism: int = Field(4, ge=1, le=64)
    max_seconds: float = Field(3600, gt=0, le=7 * 86400)


class HalvingOptions(BaseModel):
    """Successive halving: each rung keeps the best ``1/factor`` of the one before and
    gives them ``factor`` times the training rows, from ``min_resources`` rows on
    (``"exhaust"``: as many as lets the last rung see all the training rows)."""

    model_config = ConfigDict(extra="forbid")

    factor: float = Field(3, ge=1.2, le=10)
    min_resources: Literal["exhaust"] | int = Field("exhaust", examples=["exhaust", 200])


class SearchRequest(BaseModel):
    """The body of ``POST /api/v1/searches``."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(min_length=1, max_length=128, examples=["iris"])
    dataset_version: int | None = Field(None, ge=1, le=2**31 - 1)
    algorithm: str = Field(min_length=1, max_length=64, examples=["random_forest"])
    model_name: str | None = Field(None, pattern=NAME_PATTERN)
    strategy: Literal[STRATEGIES] = "random"  # type: ignore[valid-type]
    space: dict[str, Any] = Field(
        examples=[
            {
                "n_estimators": {"low": 10, "high": 200, "log": True, "type": "int"},
                "max_depth": [3, 5, None],
            }
        ]
    )
    fixed: dict[str, Any] = Field(default_factory=dict)
    metric: str | None = Field(None, description="Default: the task's headline metric.")
    cv: int = Field(5, ge=0, le=20, description="k-fold CV (stratified); 0: the hold-out split.")
    budget: Budget = Field(default_factory=Budget)
    target: str | None = None
    test_size: float = Field(0.2, gt=0, lt=1)
    random_state: int | None = Field(42, ge=0, le=2**32 - 1)
    promote: str | None = Field(None, description="An alias moved to the best version.")
    keep: Literal["best", "all"] = Field(
        "best",
        description="best: only the best candidate's model is registered (refit on all"
        " training rows); all: every trial that trained on all of them registers its model.",
    )
    halving: HalvingOptions | None = Field(None, description="Only for strategy 'halving'.")


def submit_search(
    db: Database,
    celery: TensorFleetCelery,
    request: SearchRequest,
    redis_client: redis.Redis | None = None,
    who: Principal | None = None,
    protected: frozenset[str] = frozenset(),
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Validate ``request`` whole, store the search and queue its first trials (``extra``
    fields in the search document, as in ``submit_job``)."""
    repo = SearchRepository(db)
    doc = {**new_search(db, request, who, protected), **(extra or {})}
    repo.insert(doc)
    advance(db, celery, redis_client, doc["_id"])
    return repo.get(doc["_id"])


def new_search(
    db: Database,
    request: SearchRequest,
    who: Principal | None = None,
    protected: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The search document of ``request``, validated whole (nothing is stored)."""
    dataset = DatasetRepository(db).get(request.dataset, request.dataset_version)
    refuse_if_quarantined("dataset", dataset)
    target = request.target or dataset["target"]
    profile = target_profile(dataset, target)
    task, algorithm = profile["task"], get_algorithm(request.algorithm)
    metric, scorer, higher = ranking(task, request.metric)
    data = DataShape.for_split(
        dataset["name"], profile["n_samples"], request.test_size, profile.get("n_classes")
    )
    if request.halving is not None and request.strategy != "halving":
        raise ValidationError(
            "halving options apply to strategy 'halving' only.",
            {"field": "halving", "value": request.strategy},
        )
    _check_cv(request.cv, profile, request.test_size)
    tried, total, rungs = _plan(request, algorithm, task, data)
    for candidate in tried:
        _check_candidate(algorithm, task, {**request.fixed, **candidate}, rungs_data(data, rungs))
    if request.promote is not None:
        _check_promote(request.promote, who, protected)
    fields = request.model_dump(exclude={"dataset", "dataset_version", "target", "metric"})
    search = {
        **fields,
        "dataset": dataset["name"],
        "dataset_version": dataset["version"],
        "model_name": request.model_name or f"{dataset['name']}_{algorithm.name}",
        "target": target,
        "task": task,
        "metric": metric,
        "scorer": scorer,
        "higher_is_better": higher,
        "promoted_by": who.key_id if who else None,
        "deadline": utcnow() + timedelta(seconds=request.budget.max_seconds),
        "n_train": data.n_train,
        "n_classes": data.n_classes,
    }
    if request.strategy == "halving":
        search["halving"] = (request.halving or HalvingOptions()).model_dump()
    return new_search_document(search, tried, total, rungs)


def _plan(
    request: SearchRequest, algorithm: Any, task: str, data: DataShape
) -> tuple[list[dict[str, Any]], int, list[dict[str, int]] | None]:
    """``(first candidates, total trials, halving rungs or None)`` of a valid request."""
    space = parse_space(algorithm, task, request.space, request.fixed, data)
    tried = candidates(request.strategy, space, request.budget.trials, request.random_state)
    if request.strategy == "bayesian":
        return tried, request.budget.trials, None
    if request.strategy != "halving":
        return tried, len(tried), None
    options = request.halving or HalvingOptions()
    floor = smallest_resources(request.cv, data.n_classes)
    plan = plan_rungs(len(tried), data.n_train, options.factor, options.min_resources, floor)
    rungs = [{"size": rung.size, "resources": rung.resources} for rung in plan]
    parse_space(algorithm, task, request.space, request.fixed, rungs_data(data, rungs))
    return tried, sum(rung.size for rung in plan), rungs


def rungs_data(data: DataShape, rungs: list[dict[str, int]] | None) -> DataShape:
    """The data a first-rung trial fits on: all training rows, or the first rung's."""
    if not rungs:
        return data
    return DataShape(data.dataset, rungs[0]["resources"], data.n_classes)


def _check_candidate(algorithm: Any, task: str, params: dict[str, Any], data: DataShape) -> None:
    try:
        validate_hyperparameters(algorithm, task, params, data=data)
    except ValidationError as error:
        details = {**error.details, "field": "space", "candidate": params}
        raise ValidationError(error.message, details) from None


def _check_cv(cv: int, profile: dict[str, Any], test_size: float) -> None:
    """Enough training rows (of each class) for ``cv`` folds, after the test split."""
    if cv == 0:
        return
    n_train = profile["n_samples"] - math.ceil(profile["n_samples"] * test_size)
    counts = profile.get("class_counts") or []
    rows = math.floor(min(counts) * (1 - test_size)) if counts else n_train
    if rows < cv:
        raise ValidationError(
            f"cv={cv} folds need at least {cv} training rows"
            f"{' of every class' if counts else ''}; there are {rows}.",
            {"field": "cv", "value": cv},
        )


def _check_promote(alias: str, who: Principal | None, protected: frozenset[str]) -> None:
    try:
        check_alias_name(alias)
    except ValidationError as error:
        raise ValidationError(error.message, {**error.details, "field": "promote"}) from None
    if alias in protected and not (who and who.allows("admin")):
        raise PermissionDeniedError(
            f"'{alias}' is a protected alias: promoting to it needs the 'admin' scope.",
            {"required_scope": "admin", "alias": alias},
        )


def advance(
    db: Database, celery: TensorFleetCelery, redis_client: redis.Redis | None, search_id: str
) -> dict[str, Any] | None:
    """Move search ``search_id`` forward: launch trials up to ``parallelism``, refit the best
    once every trial ended, end the search once the refit ended. Safe to call any time,
    from any number of processes. Returns the search."""
    searches, jobs = SearchRepository(db), JobRepository(db)
    search = searches.get(search_id)
    if search["status"] != "running":
        return search
    trials = jobs.of_search(search_id)
    active = sum(1 for t in trials if t["status"] in ACTIVE)
    timed_out = utcnow() >= search["deadline"]
    if timed_out:
        for trial in trials:
            if trial["status"] in ACTIVE:
                _cancel_quietly(db, redis_client, celery, trial["_id"])
        active = 0
    while not timed_out and active < search["budget"]["parallelism"]:
        index = search["launched"]
        if index >= search["total"]:
            break
        if index >= search["asked"]:  # a halving or Bayesian search: ask for more first
            if not _extend(db, search, trials, active):
                break  # the rung still runs
            search = searches.get(search_id)
            continue
        in_flight = _launch(db, celery, redis_client, search, index)
        searches.launched_one(search_id, index)
        search = searches.get(search_id)
        active += in_flight
    if active == 0 and (timed_out or search["launched"] >= search["total"]):
        _finish(db, celery, redis_client, search, jobs.of_search(search_id))
    return searches.get(search_id)


def _extend(db: Database, search: dict[str, Any], trials: list[dict], active: int) -> bool:
    """Ask for the next candidates of a halving or Bayesian search; False if it must wait
    (a halving rung still runs). Another process extending first counts as done."""
    searches = SearchRepository(db)
    asked = search["asked"]
    if search["strategy"] == "bayesian":
        algorithm = get_algorithm(search["algorithm"])
        space = parse_space(algorithm, search["task"], search["space"], search["fixed"])
        ended = {t["trial"]: t for t in trials if t["status"] in FINISHED}
        history = [_told(params, ended.get(i)) for i, params in enumerate(search["candidates"])]
        chosen = bayesian.ask(space, history, search["higher_is_better"], search["random_state"])
        searches.extend(search, [chosen])
        return True
    if active:
        return False
    rung = search["candidate_rungs"][asked - 1]
    done = [t for t in trials if t.get("rung") == rung and t["status"] == "succeeded"]
    done.sort(key=lambda t: t["result"]["score"], reverse=search["higher_is_better"])
    rungs, factor = search["rungs"], search["halving"]["factor"]
    survivors = [t["params"] for t in done[: rungs[rung + 1]["size"]]]
    later, size = 0, len(survivors)
    for planned in rungs[rung + 2 :]:
        size = min(planned["size"], math.ceil(size / factor))
        later += size
    total = asked + len(survivors) + later if survivors else asked
    searches.extend(search, survivors, rung=rung + 1, total=total)
    return True


def _told(params: dict[str, Any], trial: dict[str, Any] | None) -> bayesian.Told:
    if trial is None:
        return bayesian.Told(params)
    if trial["status"] == "succeeded":
        return bayesian.Told(params, score=trial["result"]["score"])
    return bayesian.Told(params, failed=True)


def _launch(
    db: Database,
    celery: TensorFleetCelery,
    redis_client: redis.Redis | None,
    search: dict,
    index: int,
) -> bool:
    """Queue candidate ``index`` (once); whether its trial is in flight now. When the
    search (or a halving rung) has fewer candidates than ``parallelism`` slots, each
    trial fits ``parallelism // candidates`` folds at once (the last rungs of a halving
    search would leave workers idle otherwise)."""
    params = {**search["fixed"], **search["candidates"][index]}
    rung = search["candidate_rungs"][index] if search.get("candidate_rungs") else None
    rows = search["rungs"][rung]["resources"] if rung is not None else search["n_train"]
    group = search["total"] if rung is None else search["rungs"][rung]["size"]
    options: dict[str, Any] = {
        "rung": rung,
        "n_resources": rows if rung is not None else None,
        "keep": search.get("keep") == "all" and rows >= search["n_train"],
        "threads": max(1, min(search["cv"] or 1, search["budget"]["parallelism"] // group)),
    }
    jobs = JobRepository(db)
    try:
        data = DataShape(search["dataset"], rows, search.get("n_classes"))
        algorithm = get_algorithm(search["algorithm"])
        effective = validate_hyperparameters(algorithm, search["task"], params, data=data)
    except ValidationError as error:  # a Bayesian candidate whose values do not go together
        job = new_trial_job_document(search, index, params, celery.settings.search_queue, **options)
        failed = {"type": "validation", "message": error.message, "details": error.details}
        job.update(status="failed", error=failed, finished_at=utcnow())
        with contextlib.suppress(DuplicateKeyError):
            jobs.insert(job)
        return False
    job = new_trial_job_document(search, index, effective, celery.settings.search_queue, **options)
    try:
        jobs.insert(job)
    except DuplicateKeyError:
        # launched before: a crash before the counter moved, or another advancer
        existing = jobs.find(job["_id"])
        return existing is not None and existing["status"] in ACTIVE
    publish(celery, job, redis_client)
    return True


def _finish(
    db: Database,
    celery: TensorFleetCelery,
    redis_client: redis.Redis | None,
    search: dict[str, Any],
    trials: list[dict[str, Any]],
) -> None:
    searches, jobs = SearchRepository(db), JobRepository(db)
    if search.get("refit_job_id"):
        refit = jobs.find(search["refit_job_id"])
        if refit is None or refit["status"] not in FINISHED:
            return
        if refit["status"] != "succeeded":
            error = refit.get("error") or {"type": "refit", "message": "The refit job ended."}
            searches.end(search["_id"], "failed", error=error)
            return
        best = search.get("best") or {}
        _succeed(db, search, best, refit["result"]["model_id"], refit["result"]["version"])
        return
    board = leaderboard(search, trials, limit=1)
    if not board:
        message = "No trial succeeded." if trials else "No trial ran before max_seconds."
        searches.end(search["_id"], "failed", error={"type": "no_trial", "message": message})
        return
    best = board[0]
    if best.get("model_id"):  # "keep": "all": the best trial registered its model itself
        _succeed(db, search, _public_best(best), best["model_id"], best["version"])
        return
    refit = new_job_document(
        dataset=DatasetRepository(db).get(search["dataset"], search["dataset_version"]),
        algorithm=search["algorithm"],
        model_name=search["model_name"],
        hyperparameters=best["hyperparameters"],
        target=search["target"],
        task=search["task"],
        test_size=search["test_size"],
        random_state=search["random_state"],
        queue=celery.settings.training_queue,
    )
    refit.update(_id=f"{search['_id']}-refit", search_id=search["_id"], role="refit")
    if search.get("schedule_id"):
        refit["schedule_id"] = search["schedule_id"]
    searches.set_refit(search["_id"], refit["_id"], _public_best(best))
    try:
        jobs.insert(refit)
    except DuplicateKeyError:
        return
    publish(celery, refit, redis_client)


def _succeed(
    db: Database, search: dict[str, Any], best: dict[str, Any], model_id: str, version: int
) -> None:
    best = {**best, "model_id": model_id, "version": version}
    promoted = None
    if search.get("promote"):
        who = Principal(search.get("promoted_by") or "search", "search", frozenset({"admin"}))
        try:
            move_alias(db, search["model_name"], search["promote"], AliasMove(version=version),
                       who, frozenset())  # fmt: skip
            promoted = search["promote"]
        except (ValidationError, ConflictError) as error:
            log.warning("search %s: promotion refused: %s", search["_id"], error.message)
    SearchRepository(db).end(
        search["_id"], "succeeded", best=best, model_id=model_id, promoted=promoted
    )


def _public_best(trial: dict[str, Any]) -> dict[str, Any]:
    best = {key: trial[key] for key in ("trial", "params", "score", "score_std")}
    if trial.get("rung") is not None:
        best["rung"] = trial["rung"]
    return {**best, "model_id": None, "version": None}


def leaderboard(
    search: dict[str, Any], trials: list[dict[str, Any]], limit: int = LEADERBOARD
) -> list[dict[str, Any]]:
    """The best succeeded trials first (by score, the metric's direction; in a halving
    search the highest rung first, as only its trials saw the most rows)."""
    done = [public_trial(t) for t in trials if t["status"] == "succeeded" and t.get("result")]
    sign = 1 if search["higher_is_better"] else -1
    done.sort(key=lambda t: (t["rung"] or 0, sign * t["score"]), reverse=True)
    return done[:limit]


def public_trial(job: dict[str, Any]) -> dict[str, Any]:
    """A trial as clients see it: its params, scores, time, worker and status."""
    result = job.get("result") or {}
    return {
        "trial": job["trial"],
        "job_id": job["_id"],
        "status": job["status"],
        "params": job["params"],
        "hyperparameters": job["hyperparameters"],
        "fold_scores": result.get("fold_scores"),
        "score": result.get("score"),
        "score_std": result.get("score_std"),
        "fit_time": result.get("fit_time"),
        "rung": job.get("rung"),
        "n_resources": job.get("n_resources"),
        "model_id": result.get("model_id"),
        "version": result.get("version"),
        "worker": job.get("worker"),
        "error": job.get("error"),
    }


def describe(db: Database, search: dict[str, Any]) -> dict[str, Any]:
    """A search with its ``progress`` counts and ``leaderboard`` (top 10)."""
    trials = JobRepository(db).of_search(search["_id"])
    progress = {s: 0 for s in ("queued", "running", "succeeded", "failed", "cancelled")}
    for trial in trials:
        progress[trial["status"]] += 1
    if search["status"] != "running":  # candidates never launched (cancel, max_seconds)
        progress["cancelled"] += search["total"] - len(trials)
    progress["total"] = search["total"]
    best = search.get("best")
    if best is None and (board := leaderboard(search, trials, 1)):
        best = _public_best(board[0])
    return {
        **public_search(search),
        "progress": progress,
        "best": best,
        "leaderboard": leaderboard(search, trials),
    }


def trials_page(db: Database, search_id: str, sort: str, page: int, limit: int) -> dict[str, Any]:
    """``{"items", "page", "limit", "total"}`` of a search's trials, sorted by ``sort``
    (``-score``, ``score``, ``trial``, ``-fit_time``, ``fit_time``)."""
    search = SearchRepository(db).get(search_id)
    items = [public_trial(t) for t in JobRepository(db).of_search(search_id)]
    key, descending = sort.lstrip("-"), sort.startswith("-")
    present = [t for t in items if t[key] is not None]
    missing = [t for t in items if t[key] is None]
    if key == "score":  # "-score": best first, whatever the metric's sign (highest rung first)
        sign = 1 if search["higher_is_better"] else -1
        present.sort(key=lambda t: (t["rung"] or 0, sign * t["score"]), reverse=descending)
    else:
        present.sort(key=lambda t: t[key], reverse=descending)
    ordered = present + sorted(missing, key=lambda t: t["trial"])
    start = (page - 1) * limit
    return {"items": ordered[start : start + limit], "page": page, "limit": limit,
            "total": len(items)}  # fmt: skip


def cancel_search(
    db: Database, redis_client: redis.Redis, celery: TensorFleetCelery, search_id: str
) -> dict[str, Any]:
    """Stop a search: queued and running trials are cancelled, finished ones are kept."""
    searches = SearchRepository(db)
    search = searches.get(search_id)
    ended = searches.end(search_id, "cancelled")
    if ended is None:
        raise ConflictError(
            f"Search '{search_id}' already {search['status']}.",
            {"search_id": search_id, "status": search["status"]},
        )
    for job in JobRepository(db).of_search(search_id, include_refit=True):
        if job["status"] in ACTIVE:
            _cancel_quietly(db, redis_client, celery, job["_id"])
    return ended


def _cancel_quietly(
    db: Database, redis_client: redis.Redis | None, celery: TensorFleetCelery, job_id: str
) -> None:
    try:
        if redis_client is not None:
            cancel_job(db, redis_client, celery, job_id)
    except ConflictError:
        pass  # it ended meanwhile
