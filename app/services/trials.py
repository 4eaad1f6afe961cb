"""One trial of a hyperparameter search: cross-validate one candidate, record its scores.

A trial is a job (``kind: "trial"``) with the life cycle of every job (``TrainingRun``:
claim, lease, heartbeat, fencing, retries, cancel at each stage); it stores no model. Its
result is ``{"params", "fold_scores", "score", "score_std", "fit_time", "metric"}``; the
search moves on when it ends (``app.services.searches.advance``).
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

    def _committed(self) -> dict[str, Any] | None:
        return None  # the result is written with the job's end: a new delivery starts over

    def _discard_uncommitted(self) -> None:
        """A trial uploads nothing."""

    def _discard_try(self) -> None:
        """A trial uploads nothing."""

    def _succeed(self, result: dict[str, Any]) -> dict[str, Any]:
        self.ended = self.outcomes.succeed_with(self.job_id, result, self.attempt or None)
        return result

    def _work(self, job: dict[str, Any]) -> dict[str, Any]:
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
            progress=self.progress,
        )
        self.progress("saving", 95)
        return {
            "params": job["params"],
            "metric": metric,
            "fold_scores": scores.fold_scores,
            "score": scores.score,
            "score_std": scores.score_std,
            "fit_time": scores.fit_time,
        }
