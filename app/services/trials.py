"""One trial of a hyperparameter search: cross-validate one candidate, record its scores.

A trial is a job (``kind: "trial"``) with the life cycle of every job (``TrainingRun``:
claim, lease, heartbeat, fencing, retries, cancel at each stage). Its result is
``{"params", "fold_scores", "score", "score_std", "fit_time", "metric"}``, and for a
search that keeps every model (``"keep": "all"``) also the ``model_id`` and ``version``
it registered: the candidate trained on all the training rows and scored on the test
rows like any training job (a redelivery finds that model committed and does not train
it again). The search moves on when the trial ends (``app.services.searches.advance``).
"""

from __future__ import annotations

from typing import Any

from app.ml.cross_validation import score_trial
from app.ml.registry import get_algorithm
from app.ml.search_space import ranking
from app.services.runs import TrainingRun
from app.storage.datasets import DatasetRepository


class TrialRun(TrainingRun):
    """Runs search trial ``job_id`` once."""

    span = (0, 100)  # the share of the job's progress the current phase reports in

    def progress(self, stage: str, percent: int) -> None:
        """Record a stage; cross-validation and training a kept model each fill a half."""
        low, high = self.span
        super().progress(stage, low + percent * (high - low) // 100)

    def _committed(self) -> dict[str, Any] | None:
        return None  # the scores are written with the job's end: a new delivery starts over

    def _succeed(self, result: dict[str, Any]) -> dict[str, Any]:
        self.ended = self.outcomes.succeed_with(self.job_id, result, self.attempt or None)
        return result

    def _work(self, job: dict[str, Any]) -> dict[str, Any]:
        self.span = (0, 50) if job.get("keep") else (0, 100)
        self.progress("loading_data", 5)
        dataset = DatasetRepository(self.db).get(job["dataset"], job["dataset_version"])
        metric, scorer, higher = ranking(job["task"], job["metric"])
        scores = score_trial(
            self._load_frame(dataset),
            target=job["target"],
            task=job["task"],
            algorithm=get_algorithm(job["algorithm"]),
            hyperparameters=job["hyperparameters"],
            scorer=scorer,
            higher_is_better=higher,
            cv=job["cv"],
            test_size=job["test_size"],
            random_state=job["random_state"],
            n_resources=job.get("n_resources"),
            threads=job.get("threads") or 1,
            progress=self.progress,
        )
        result = {
            "params": job["params"],
            "metric": metric,
            "rung": job.get("rung"),
            "n_resources": job.get("n_resources"),
            "fold_scores": scores.fold_scores,
            "score": scores.score,
            "score_std": scores.score_std,
            "fit_time": scores.fit_time,
        }
        if job.get("keep"):
            self.span = (50, 100)
            model = self.models.find_by_job(self.job_id) or self._train_and_commit(job)
            result.update(model_id=model["_id"], version=model["version"])
        else:
            self.progress("saving", 95)
        return result
