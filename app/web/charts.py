"""Server-side SVG charts for the UI: each function returns one self-contained inline
``<svg>`` (no JavaScript, no external assets) as ``Markup``, safe to put in a template.

Charts scale with their ``viewBox`` (480 px wide), have ``role="img"`` and an accessible
name, and escape every text. Bad input never raises: empty input gives a "No data"
placeholder; None/NaN values are gaps; long labels are cut with an ellipsis (the full
text in a ``<title>`` tooltip); too many groups, bars, classes, series or categories are
capped, with a note saying so. Data elements carry a class (for CSS and tests): ``bar``,
``cell``, ``line``, ``point`` (``point best`` for the highlighted one).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from markupsafe import Markup

from app.web.svg import (
    HEIGHT,
    MUTED,
    PALETTE,
    WIDTH,
    Box,
    Scale,
    bottom_title,
    document,
    el,
    finite,
    fit,
    fmt,
    header,
    legend,
    log_ticks,
    n,
    nice_ticks,
    placeholder,
    side_title,
    text,
    tooltip,
    truncate,
    x_axis,
    y_axis,
)

MAX_GROUPS, MAX_SERIES, MAX_BARS, MAX_CLASSES, MAX_CATEGORIES = 15, len(PALETTE), 30, 20, 20
ROW = 18  # px per horizontal bar


def _capped(count: int, limit: int, what: str) -> list[str]:
    """A note when only the first ``limit`` of ``count`` items are drawn."""
    return [f"Showing the first {limit} of {count} {what}."] if count > limit else []


def bar_chart(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    title: str = "",
    y_label: str = "",
) -> Markup:
    """Grouped vertical bars: one group per label, one bar per series, and a legend.

    ``series[name][i]`` is the bar of series ``name`` in group ``labels[i]``; a None, NaN
    or missing value leaves a gap. At most 15 groups and 8 series are drawn.
    """
    notes = _capped(len(labels), MAX_GROUPS, "groups") + _capped(len(series), MAX_SERIES, "series")
    groups = [str(label) for label in labels][:MAX_GROUPS]
    rows = {str(k): [finite(v) for v in list(vs or ())[: len(groups)]] for k, vs in series.items()}
    names = list(rows)[:MAX_SERIES]
    values = [v for name in names for v in rows[name] if v is not None]
    if not values:
        return placeholder(title, "Bar chart")
    parts, top = header(title, notes)
    keys, key_height = legend(names, top)
    box = Box(52, top + key_height + 6, WIDTH - 12, HEIGHT - 44)
    ticks = nice_ticks(min(0.0, *values), max(0.0, *values))
    y = Scale(ticks[0], ticks[-1], box.bottom, box.top)
    parts += keys + y_axis(box, y, ticks, y_label)
    slot = box.width / len(groups)
    width = slot * 0.8 / len(names)
    for g, group in enumerate(groups):
        for s, name in enumerate(names):
            value = rows[name][g] if g < len(rows[name]) else None
            if value is not None:
                top_px, bottom_px = sorted((y(value), y(0.0)))
                tip = tooltip(f"{name} · {group}: {fmt(value)}")
                x = box.left + g * slot + slot * 0.1 + s * width
                shape = {"width": width * 0.92, "height": bottom_px - top_px, "fill": PALETTE[s]}
                parts.append(el("rect", tip, class_="bar", x=x, y=top_px, **shape))
        centre = box.left + (g + 0.5) * slot
        parts.append(text(centre, box.bottom + 14, group, fit(slot), text_anchor="middle"))
    parts.append(el("line", x1=box.left, x2=box.right, y1=y(0.0), y2=y(0.0), stroke=MUTED))
    return document(parts, title=title, kind="Bar chart")


def hbar_chart(labels: Sequence[str], values: Sequence[float], *, title: str = "") -> Markup:
    """Horizontal bars in the order given (feature importances, largest first), each value
    printed at its bar's end. At most 30 bars; the chart grows taller with their number."""
    notes = _capped(min(len(labels), len(values)), MAX_BARS, "bars")
    pairs = [(str(label), finite(v)) for label, v in zip(labels, values, strict=False)]
    pairs = pairs[:MAX_BARS]
    numbers = [v for _, v in pairs if v is not None]
    if not numbers:
        return placeholder(title, "Horizontal bar chart")
    parts, top = header(title, notes)
    box = Box(150, top + 4, WIDTH - 48, top + 4 + ROW * len(pairs))
    ticks = nice_ticks(min(0.0, *numbers), max(0.0, *numbers))
    x = Scale(ticks[0], ticks[-1], box.left, box.right)
    parts += x_axis(box, x, ticks)
    for i, (label, value) in enumerate(pairs):
        middle = box.top + (i + 0.5) * ROW
        parts.append(text(box.left - 6, middle + 4, label, 23, text_anchor="end"))
        if value is None:
            parts.append(text(x(0.0) + 4, middle + 4, "n/a", fill=MUTED))
            continue
        left, right = sorted((x(value), x(0.0)))
        shape = {"width": right - left, "height": ROW * 0.7, "fill": PALETTE[0]}
        tip = tooltip(f"{label}: {fmt(value)}")
        parts.append(el("rect", tip, class_="bar", x=left, y=middle - ROW * 0.35, **shape))
        end, anchor = (right + 4, "start") if value >= 0 else (left - 4, "end")
        parts.append(text(end, middle + 4, fmt(value), text_anchor=anchor, font_size=10))
    return document(parts, title=title, kind="Horizontal bar chart", height=box.bottom + 24)


def heatmap(
    matrix: Sequence[Sequence[float]],
    labels: Sequence[str],
    *,
    title: str = "Confusion matrix",
    x_label: str = "predicted",
    y_label: str = "actual",
) -> Markup:
    """Cells shaded by their share of their row, each printing its value; ``labels`` name
    the rows and the columns alike (missing ones are numbered). At most 20 x 20 cells."""
    rows = [[finite(v) for v in row or ()] for row in matrix]
    n_cols = max((len(row) for row in rows), default=0)
    if not n_cols:
        return placeholder(title, "Heatmap")
    notes = _capped(max(len(rows), n_cols), MAX_CLASSES, "classes")
    rows, n_cols = [row[:MAX_CLASSES] for row in rows[:MAX_CLASSES]], min(n_cols, MAX_CLASSES)
    count = max(len(rows), n_cols)
    names = [str(label) for label in labels][:count]
    names += [str(i) for i in range(len(names), count)]
    parts, top = header(title, notes)
    cell = min((WIDTH - 134) / n_cols, (HEIGHT - top - 52) / len(rows))
    left = 110 + (WIDTH - 134 - cell * n_cols) / 2  # centred right of the row labels
    box = Box(left, top, left + cell * n_cols, top + cell * len(rows))
    size = max(7.0, min(13.0, cell * 0.35))
    for i, row in enumerate(rows):
        total = sum(v for v in row if v is not None and v > 0)
        middle = box.top + (i + 0.5) * cell
        parts.append(text(box.left - 6, middle + 4, names[i], 15, text_anchor="end"))
        for j in range(n_cols):
            value = row[j] if j < len(row) else None
            share = max(0.0, value) / total if value is not None and total > 0 else 0.0
            tip = tooltip(f"{names[i]} → {names[j]}: {fmt(value)} ({share:.0%} of the row)")
            x, fill = box.left + j * cell, _blue(share)
            square = {"width": cell, "height": cell, "fill": fill, "stroke": "#ffffff"}
            parts.append(el("rect", tip, class_="cell", x=x, y=middle - cell / 2, **square))
            if cell >= 12:
                ink = {"fill": "#ffffff" if share > 0.55 else "#222222", "font_size": size}
                parts.append(
                    text(x + cell / 2, middle + size / 3, fmt(value), text_anchor="middle", **ink)
                )
    for j in range(n_cols):
        centre = box.left + (j + 0.5) * cell
        parts.append(text(centre, box.bottom + 14, names[j], fit(cell), text_anchor="middle"))
    parts += [bottom_title(box, x_label), side_title(box, y_label)]
    return document(parts, title=title, kind="Heatmap")


def _blue(share: float) -> str:
    """A colour from near-white (0) to dark blue (1)."""
    low, high = (247, 251, 255), (8, 69, 148)
    channels = (round(a + (b - a) * min(1.0, share)) for a, b in zip(low, high, strict=True))
    return "#" + "".join(f"{c:02x}" for c in channels)


def line_chart(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    title: str = "",
    x_label: str = "",
    y_label: str = "",
    diagonal: bool = False,
    x_range: tuple[float, float] = (0, 1),
    y_range: tuple[float, float] = (0, 1),
) -> Markup:
    """Lines through the ``(xs, ys)`` of each series (ROC, precision-recall curves) on the
    fixed ``x_range`` x ``y_range`` (values outside are clamped); a None/NaN point breaks
    its line. ``diagonal`` adds the dashed chance line y = x. At most 8 series."""
    names = [str(name) for name in series][:MAX_SERIES]
    lines = [_runs(*(pair or ((), ()))) for pair in list(series.values())[:MAX_SERIES]]
    if not any(lines):
        return placeholder(title, "Line chart")
    parts, top = header(title, _capped(len(series), MAX_SERIES, "series"))
    keys, key_height = legend(names, top) if len(names) > 1 or names[0] else ([], 0.0)
    box = Box(52, top + key_height + 6, WIDTH - 16, HEIGHT - 44)
    (x_lo, x_hi), (y_lo, y_hi) = _range(x_range), _range(y_range)
    x, y = Scale(x_lo, x_hi, box.left, box.right), Scale(y_lo, y_hi, box.bottom, box.top)
    parts += keys + x_axis(box, x, _within(x_lo, x_hi), x_label)
    parts += y_axis(box, y, _within(y_lo, y_hi), y_label)
    low, high = max(x_lo, y_lo), min(x_hi, y_hi)
    if diagonal and low < high:
        dashed = {"stroke": MUTED, "stroke_dasharray": "4 4", "class_": "diagonal"}
        parts.append(el("line", x1=x(low), y1=y(low), x2=x(high), y2=y(high), **dashed))
    for i, runs in enumerate(lines):
        stroke = {"fill": "none", "stroke": PALETTE[i], "stroke_width": 2, "class_": "line"}
        for run in runs:
            path = " L ".join(f"{n(x(px))} {n(y(py))}" for px, py in run)
            parts.append(el("path", d=f"M {path}", stroke_linejoin="round", **stroke))
            if len(run) == 1:
                dot = {"r": 3, "fill": PALETTE[i], "class_": "point"}
                parts.append(el("circle", cx=x(run[0][0]), cy=y(run[0][1]), **dot))
    return document(parts, title=title, kind="Line chart")


def _runs(xs: Sequence[float], ys: Sequence[float]) -> list[list[tuple[float, float]]]:
    """The runs of consecutive points whose coordinates are both finite."""
    runs: list[list[tuple[float, float]]] = [[]]
    for px, py in ((finite(a), finite(b)) for a, b in zip(xs or (), ys or (), strict=False)):
        if px is None or py is None:
            runs.append([])
        else:
            runs[-1].append((px, py))
    return [run for run in runs if run]


def _range(bounds: tuple[float, float]) -> tuple[float, float]:
    """An axis range as given, or (0, 1) if it is not two finite increasing numbers."""
    lo, hi = finite(bounds[0]), finite(bounds[1])
    return (lo, hi) if lo is not None and hi is not None and lo < hi else (0.0, 1.0)


def _within(lo: float, hi: float) -> list[float]:
    """Nice ticks inside ``[lo, hi]``."""
    slack = (hi - lo) * 1e-9
    return [t for t in nice_ticks(lo, hi) if lo - slack <= t <= hi + slack]


def scatter_chart(
    points: Sequence[tuple[float | str, float]],
    *,
    title: str = "",
    x_label: str = "",
    y_label: str = "",
    log_x: bool = False,
    highlight: int | None = None,
) -> Markup:
    """Points ``(x, y)``: e.g. a search's trial scores against one hyperparameter.

    ``x`` is numeric (a linear axis, or a log one with ``log_x``, which leaves out x <= 0)
    or, if any x is a string, None or bool, categorical: evenly spaced categories (numbers,
    then strings, then "None"; at most 20), a category's points spread a little.
    ``highlight`` is the index in ``points`` of the best point, drawn larger and labelled.
    Points whose y is None/NaN are left out.
    """
    kept = [(i, px, py) for i, (px, py) in enumerate(points) if finite(py) is not None]
    keys = {i: _category(px) for i, px, _ in kept}
    notes: list[str] = []
    place: dict[int, float] = {}
    slot_of: dict[tuple[int, float, str], int] = {}
    if any(key[0] for key in keys.values()):  # a string, None or bool: categorical
        slots = sorted(set(keys.values()))
        notes += _capped(len(slots), MAX_CATEGORIES, "categories")
        slot_of = {key: k for k, key in enumerate(slots[:MAX_CATEGORIES])}
        kept = [point for point in kept if keys[point[0]] in slot_of]
        seen: dict[int, int] = {}
        for i, _, _ in kept:
            k = slot_of[keys[i]]
            seen[k] = seen.get(k, 0) + 1  # the 2nd, 3rd... point of a slot moves aside
            place[i] = k + 0.5 + (((seen[k] - 1) * 0.618034) % 1 - 0.5) * 0.4 * (seen[k] > 1)
    elif log_x:
        positive = [point for point in kept if keys[point[0]][1] > 0]
        hidden = len(kept) - len(positive)
        notes += [f"{hidden} point(s) with x <= 0 are not shown on the log axis."] * (hidden > 0)
        kept = positive
    if not kept:
        return placeholder(title, "Scatter chart")
    parts, top = header(title, notes)
    box = Box(52, top + 4, WIDTH - 16, HEIGHT - 44)
    ys = {i: float(py) for i, _, py in kept}
    y_ticks = nice_ticks(*_padded(ys.values()))
    y = Scale(y_ticks[0], y_ticks[-1], box.bottom, box.top)
    parts += y_axis(box, y, y_ticks, y_label)
    if slot_of:
        x = Scale(0, len(slot_of), box.left, box.right)
        names = [truncate(key[2], fit(box.width / len(slot_of))) for key in slot_of]
        parts += x_axis(box, x, [k + 0.5 for k in range(len(slot_of))], x_label, names)
    else:
        xs = [keys[i][1] for i, _, _ in kept]
        ticks = log_ticks(min(xs), max(xs)) if log_x else nice_ticks(*_padded(xs))
        place = {i: math.log10(keys[i][1]) if log_x else keys[i][1] for i, _, _ in kept}
        spots = [math.log10(t) for t in ticks] if log_x else ticks
        x = Scale(spots[0], spots[-1], box.left, box.right)
        parts += x_axis(box, x, spots, x_label, [fmt(t) for t in ticks] if log_x else ())
    best = []
    for i, _, _ in kept:
        tip = tooltip(f"{x_label or 'x'} = {keys[i][2]}, {y_label or 'y'} = {fmt(ys[i])}")
        at = {"cx": x(place[i]), "cy": y(ys[i])}
        if i == highlight:
            best.append(
                el("circle", tip, class_="point best", r=6, fill=PALETTE[5], stroke="#222222", **at)
            )
            side = (8, "start") if at["cx"] < box.right - 40 else (-8, "end")
            mark = {"text_anchor": side[1], "font_weight": 600}
            best.append(text(at["cx"] + side[0], max(at["cy"] - 8, box.top + 10), "best", **mark))
        else:
            dot = {"r": 3.5, "fill": PALETTE[0], "fill_opacity": 0.75}
            parts.append(el("circle", tip, class_="point", **at, **dot))
    return document(parts + best, title=title, kind="Scatter chart")


def _padded(values: Iterable[float]) -> tuple[float, float]:
    """The range of ``values`` widened by 3% on each side, so no point sits on the frame."""
    numbers = list(values)
    lo, hi = min(numbers), max(numbers)
    pad = (hi - lo) * 0.03
    return lo - pad, hi + pad


def _category(value: object) -> tuple[int, float, str]:
    """Sort key and name of an x value: (0, the number, its label) for a finite number,
    (1, 0, the text) for anything else but None, (2, 0, "None") for None."""
    if value is None:
        return (2, 0.0, "None")
    number = None if isinstance(value, bool) else finite(value)
    return (1, 0.0, str(value)) if number is None else (0, number, fmt(number))
