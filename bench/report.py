"""Figures, their summary (median of rounds), the printed table and ``results.json``."""

from __future__ import annotations

import json
import math
import operator
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_OPS = {"<=": operator.le, ">=": operator.ge}


@dataclass
class Figure:
    """One benchmark figure: per-round (value, baseline) pairs and a goal.

    ``goal_on`` says what the goal bounds: the ``ratio`` (value / baseline of the same
    round; the figure's ratio is the median of the per-round ratios) or the ``value``
    itself (RSS budgets, whose baseline is only a reference point).
    """

    name: str
    unit: str
    goal_op: str
    goal: float
    goal_on: str = "ratio"
    rounds: list[tuple[float, float | None]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # why the figure could not be measured (a failure)
    skipped: str | None = None  # why it was not measured on purpose (smoke mode, budget)

    def add(self, value: float, baseline: float | None) -> None:
        """Record one round."""
        self.rounds.append((float(value), None if baseline is None else float(baseline)))

    @property
    def values(self) -> list[float]:
        """The service's measurement of each round."""
        return [v for v, _ in self.rounds]

    @property
    def baselines(self) -> list[float]:
        """The baseline of each round (where there is one)."""
        return [b for _, b in self.rounds if b is not None]

    @property
    def ratios(self) -> list[float]:
        """value / baseline of each round."""
        return [v / b for v, b in self.rounds if b]

    @property
    def ok(self) -> bool | None:
        """Whether the goal is met (None if nothing was measured)."""
        measured = self.ratio if self.goal_on == "ratio" else _median(self.values)
        if measured is None or self.error or self.skipped:
            return None
        return _OPS[self.goal_op](measured, self.goal)

    @property
    def ratio(self) -> float | None:
        """Median of the per-round ratios."""
        return _median(self.ratios)

    def summary(self) -> dict[str, Any]:
        """The results.json entry."""
        return {
            "name": self.name,
            "value": _round(_median(self.values)),
            "unit": self.unit,
            "baseline": _round(_median(self.baselines)),
            "ratio": _round(self.ratio),
            "goal": f"{self.goal_on} {self.goal_op} {self.goal:g}",
            "ok": self.ok,
            "rounds": [
                {"value": _round(v), "baseline": _round(b), "ratio": _round(v / b if b else None)}
                for v, b in self.rounds
            ],
            "details": self.details,
            "error": self.error,
            "skipped": self.skipped,
        }


def _median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def _round(x: float | None, digits: int = 4) -> float | None:
    if x is None or math.isnan(x):
        return None
    return float(f"{x:.{digits}g}")


def _spread(xs: list[float]) -> str:
    if not xs:
        return "-"
    med = statistics.median(xs)
    if len(xs) == 1:
        return f"{med:.3g}"
    return f"{med:.3g} [{min(xs):.3g}..{max(xs):.3g}]"


def table(figures: list[Figure]) -> str:
    """A plain-text table: median [min..max] of value, baseline and ratio over the rounds."""
    header = ("figure", "value", "unit", "baseline", "ratio", "goal", "ok")
    rows = [header]
    for fig in figures:
        ok = {True: "yes", False: "NO", None: "n/a"}[fig.ok]
        if fig.error or fig.skipped:
            ok += f" ({'error: ' if fig.error else 'skipped: '}{(fig.error or fig.skipped)[:70]})"
        rows.append(
            (
                fig.name,
                _spread(fig.values),
                fig.unit,
                _spread(fig.baselines),
                _spread(fig.ratios),
                f"{fig.goal_on} {fig.goal_op} {fig.goal:g}",
                ok,
            )
        )
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_results(figures: list[Figure], path: Path) -> None:
    """A JSON list with one entry per figure (``Figure.summary``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([fig.summary() for fig in figures], indent=2) + "\n")
