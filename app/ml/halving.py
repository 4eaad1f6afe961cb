"""Successive halving: which candidates run on how many training rows, rung by rung.

Rung 0 tries every candidate on few rows; each next rung keeps the best
``ceil(n / factor)`` of the previous one and gives them ``factor`` times the rows. As in
scikit-learn's ``HalvingRandomSearchCV`` there are ``1 + floor(log_factor(candidates))``
rungs at most, fewer if the rows run out. ``min_resources="exhaust"`` (the default)
chooses the first rung's rows so that the last rung trains on all the training rows:
scikit-learn's own default (``"smallest"``) picks its winner from a few hundred rows.
A floor of ``2 * cv * classes`` rows (scikit-learn's smallest) keeps every fold of every
class represented.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.errors import ValidationError


@dataclass(frozen=True)
class Rung:
    """One rung: its ``size`` candidates each fit on ``resources`` training rows."""

    size: int
    resources: int


def smallest_resources(cv: int, n_classes: int | None) -> int:
    """The fewest training rows a trial may get (scikit-learn's ``"smallest"``)."""
    folds = max(cv, 2)
    return 2 * folds * (n_classes or 1)


def plan_rungs(
    n_candidates: int,
    n_train: int,
    factor: float,
    min_resources: int | str,
    floor: int,
) -> list[Rung]:
    """The rungs of a halving search over ``n_candidates`` and ``n_train`` training rows;
    ValidationError naming the field if ``min_resources`` does not fit the data."""
    required = 1
    while factor**required <= n_candidates:
        required += 1
    if min_resources == "exhaust":
        first = max(int(n_train // factor ** (required - 1)), floor)
    else:
        first = int(min_resources)
        if not floor <= first <= n_train:
            raise ValidationError(
                f"halving.min_resources must be between {floor} (2 x folds x classes) and"
                f" {n_train} (the training rows).",
                {"field": "halving.min_resources", "value": min_resources},
            )
    if first > n_train:
        raise ValidationError(
            f"Halving needs at least {floor} training rows (2 x folds x classes); there are"
            f" {n_train}.",
            {"field": "strategy", "value": "halving"},
        )
    possible = 1
    while first * factor**possible <= n_train:
        possible += 1
    count = min(required, possible)
    sizes = [n_candidates]
    for _ in range(count - 1):
        sizes.append(math.ceil(sizes[-1] / factor))
    if min_resources == "exhaust":  # the last rung sees every training row
        rows = [max(int(n_train // factor ** (count - 1 - r)), floor) for r in range(count)]
    else:
        rows = [min(int(first * factor**r), n_train) for r in range(count)]
    return [Rung(size, resources) for size, resources in zip(sizes, rows, strict=True)]
