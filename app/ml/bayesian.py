"""Bayesian search: the next candidate from Optuna's TPE sampler, by ask-and-tell.

The study's state is the search's own record in MongoDB: the candidates asked so far and
the scores of the trials that ended. Whichever process advances the search rebuilds an
in-memory Optuna study from that record (finished trials told with their scores, failed
ones as failed, the rest as running, which TPE's ``constant_liar`` keeps new asks away
from) and asks it for one candidate; the search's compare-and-set on ``asked`` decides
which process's candidate is kept. So no Optuna storage is shared between processes (no
SQLite file, no lock: optuna#820), a lost worker loses nothing of the study, and the
candidate asked for a given history is reproducible (the sampler's seed is
``random_state`` plus the number asked before).

Lists of values become categorical distributions over their positions (so any JSON
value can be searched); ranges become integer or float distributions, log-scaled if asked.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.ml.search_space import Range, plain_params

N_STARTUP_TRIALS = 8  # random candidates before TPE models the scores


@dataclass(frozen=True)
class Told:
    """One asked candidate and what became of it: ``score`` (the metric's own sign) if its
    trial succeeded, ``failed`` if it ended otherwise, neither while it runs."""

    params: Mapping[str, Any]
    score: float | None = None
    failed: bool = False


def ask(
    space: Mapping[str, list[Any] | Range],
    history: Sequence[Told],
    higher_is_better: bool,
    random_state: int | None,
) -> dict[str, Any]:
    """The next candidate TPE proposes after ``history``."""
    import optuna  # only Bayesian searches pay for the import
    from optuna.study import StudyDirection
    from optuna.trial import TrialState, create_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = {name: _distribution(entry) for name, entry in space.items()}
    seed = None if random_state is None else random_state + len(history)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(
            seed=seed, constant_liar=True, n_startup_trials=N_STARTUP_TRIALS
        )
    direction = StudyDirection.MAXIMIZE if higher_is_better else StudyDirection.MINIMIZE
    study = optuna.create_study(direction=direction, sampler=sampler)
    for told in history:
        params = {name: _encode(space[name], told.params[name]) for name in space}
        if told.score is not None:
            state, value = TrialState.COMPLETE, told.score
        else:
            state, value = (TrialState.FAIL if told.failed else TrialState.RUNNING), None
        study.add_trial(
            create_trial(params=params, distributions=distributions, value=value, state=state)
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        trial = study.ask(distributions)
    chosen = {name: _decode(space[name], trial.params[name]) for name in space}
    return plain_params(chosen)


def _distribution(entry: list[Any] | Range) -> Any:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if isinstance(entry, Range):
        if entry.integer:
            return IntDistribution(int(entry.low), int(entry.high), log=entry.log)
        return FloatDistribution(entry.low, entry.high, log=entry.log)
    return CategoricalDistribution(tuple(range(len(entry))))


def _encode(entry: list[Any] | Range, value: Any) -> Any:
    """A stored value as the distribution's: a list's position, a range's clamped value."""
    if isinstance(entry, Range):
        clamped = min(max(value, entry.low), entry.high)  # stored values are rounded
        return int(clamped) if entry.integer else float(clamped)
    for position, option in enumerate(entry):
        if option == value and type(option) is type(value):
            return position
    raise ValueError(f"{value!r} is not one of {entry!r}")


def _decode(entry: list[Any] | Range, value: Any) -> Any:
    return value if isinstance(entry, Range) else entry[value]
