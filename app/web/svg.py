"""Helpers to write self-contained inline SVG: elements, escaped text, numbers, nice ticks,
axes, legends, the ``<svg>`` document itself.

Text is XML-escaped and stripped of the characters XML cannot hold; no ``id`` attributes
are written, so any number of charts can share one page.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 480, 320
CHAR_WIDTH = 6.2  # average width of an 11px sans-serif character, for truncation
# Okabe-Ito (colour-blind safe; its yellow is too light on white), then two greys.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#555555", "#999999")
INK, MUTED, GRID = "#222222", "#666666", "#e6e6e6"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def clean(value: object) -> str:
    """``str(value)`` without the characters XML 1.0 cannot contain."""
    return _NOT_XML.sub("", str(value))


def esc(value: object) -> str:
    """``value`` as escaped XML text (also safe in a double-quoted attribute)."""
    return str(escape(clean(value)))


def truncate(value: object, max_chars: int | None) -> str:
    """``value`` cut to ``max_chars`` characters, the last one an ellipsis if cut."""
    full = clean(value)
    if max_chars is None or len(full) <= max_chars:
        return full
    return full[: max(0, max_chars - 1)] + "…"


def fit(width: float) -> int:
    """How many characters of 11px text fit in ``width`` pixels (at least 1)."""
    return max(1, int(width / CHAR_WIDTH))


def n(value: float) -> str:
    """A coordinate, compactly (2 decimals at most)."""
    out = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if out == "-0" else out


def fmt(value: float | None) -> str:
    """A value for a label: whole numbers as such, others to 3 significant digits."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if value == int(value) and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.3g}"


def finite(value: object) -> float | None:
    """``value`` as a finite float, or None (None, NaN, infinities, strings, non-numbers)."""
    if isinstance(value, str):
        return None
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def el(tag: str, body: str = "", /, **attrs: object) -> str:
    """An element with ``attrs`` (``_`` in a name written ``-``, a trailing one dropped:
    ``class_``; numbers compact; None left out) around ``body``, which is markup already."""
    pairs = "".join(
        f' {key.rstrip("_").replace("_", "-")}="{n(v) if isinstance(v, float) else esc(v)}"'
        for key, v in attrs.items()
        if v is not None
    )
    return f"<{tag}{pairs}>{body}</{tag}>" if body else f"<{tag}{pairs}/>"


def tooltip(content: object) -> str:
    """A ``<title>`` child: the tooltip (and accessible name) of an element."""
    return f"<title>{esc(content)}</title>"


def text(
    x: float, y: float, content: object, max_chars: int | None = None, /, **attrs: object
) -> str:
    """A ``<text>`` at ``x, y``, cut to ``max_chars`` (the full text then in its ``<title>``)."""
    full = clean(content)
    shown = truncate(full, max_chars)
    return el("text", (tooltip(full) if shown != full else "") + esc(shown), x=x, y=y, **attrs)


def nice_number(value: float, round_: bool) -> float:
    """The "nice" number (1, 2, 5 or 10 times a power of ten) near ``value`` > 0: rounded,
    or the smallest at least ``value`` (Heckbert, Graphics Gems, 1990)."""
    exponent = math.floor(math.log10(value))
    fraction = value / 10**exponent
    limits = ((1.5, 1), (3, 2), (7, 5)) if round_ else ((1, 1), (2, 2), (5, 5))
    nice = next((nice for limit, nice in limits if fraction <= limit), 10)
    return nice * 10.0**exponent


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` evenly spaced nice tick values covering ``[lo, hi]`` (the first <=
    lo, the last >= hi); an empty range is widened around its value."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    lo, hi = min(lo, hi), max(lo, hi)
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    step = nice_number(nice_number(hi - lo, False) / max(1, count - 1), True)
    digits = max(0, -math.floor(math.log10(step))) + 2
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [round(k * step, digits) + 0.0 for k in range(first, last + 1)]  # + 0.0: no -0.0


def log_ticks(lo: float, hi: float) -> list[float]:
    """Powers of ten covering ``[lo, hi]`` (both > 0); every other one (or fewer) when
    there would be more than 7."""
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    last = max(last, first + 1)
    every = math.ceil((last - first + 1) / 7)
    last = first + math.ceil((last - first) / every) * every
    return [10.0**k for k in range(first, last + 1, every)]


def tick_label(value: float, step: float) -> str:
    """A tick value with as many decimals as the tick spacing ``step`` needs."""
    if step >= 1e5 or step < 1e-4:
        return f"{value:.2g}"
    return f"{value:.{max(0, -math.floor(math.log10(step) + 1e-9))}f}"


@dataclass(frozen=True)
class Box:
    """The plotting area, in SVG pixels (y grows downwards)."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        """Width in pixels."""
        return self.right - self.left

    @property
    def height(self) -> float:
        """Height in pixels."""
        return self.bottom - self.top


@dataclass(frozen=True)
class Scale:
    """Maps data values in ``lo..hi`` onto pixels ``start..end`` (outside values clamped)."""

    lo: float
    hi: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        """The pixel position of ``value``."""
        clamped = min(max(value, min(self.lo, self.hi)), max(self.lo, self.hi))
        return self.start + (clamped - self.lo) / ((self.hi - self.lo) or 1.0) * (
            self.end - self.start
        )


def y_axis(box: Box, scale: Scale, ticks: Sequence[float], label: str = "") -> list[str]:
    """Horizontal grid lines with tick labels left of ``box``, and the rotated axis title."""
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    parts = [
        el("line", x1=box.left, x2=box.right, y1=scale(t), y2=scale(t), stroke=GRID)
        + text(box.left - 4, scale(t) + 3.5, tick_label(t, step), text_anchor="end", fill=MUTED)
        for t in ticks
    ]
    return [*parts, side_title(box, label)] if label else parts


def side_title(box: Box, label: str) -> str:
    """A y axis title, rotated, at the left edge of the chart."""
    middle = (box.top + box.bottom) / 2
    rotate = f"rotate(-90 12 {n(middle)})"
    return text(12, middle, label, fit(box.height), text_anchor="middle", transform=rotate)


def x_axis(
    box: Box, scale: Scale, ticks: Sequence[float], label: str = "", names: Sequence[str] = ()
) -> list[str]:
    """Vertical grid lines with tick labels under ``box`` (``names`` instead of the values
    if given), and the axis title."""
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    names = list(names) or [tick_label(t, step) for t in ticks]
    parts = [
        el("line", x1=scale(t), x2=scale(t), y1=box.top, y2=box.bottom, stroke=GRID)
        + text(scale(t), box.bottom + 14, name, text_anchor="middle", fill=MUTED)
        for t, name in zip(ticks, names, strict=False)
    ]
    return [*parts, bottom_title(box, label)] if label else parts


def bottom_title(box: Box, label: str) -> str:
    """An x axis title, centred under the tick labels of ``box``."""
    middle = (box.left + box.right) / 2
    return text(middle, box.bottom + 30, label, fit(box.width), text_anchor="middle")


def legend(names: Sequence[str], top: float, left: float = 48) -> tuple[list[str], float]:
    """Colour swatches and names flowing in rows from ``top``; the parts and their height."""
    parts, x, y = [], left, top
    for i, name in enumerate(names):
        width = 28 + CHAR_WIDTH * len(truncate(name, 24))
        if x > left and x + width > WIDTH - 12:
            x, y = left, y + 16
        swatch = el("rect", x=x, y=y, width=10, height=10, fill=PALETTE[i % len(PALETTE)])
        parts.append(swatch + text(x + 14, y + 9, name, 24))
        x += width
    return parts, (y - top + 18 if names else 0)


def header(title: str, notes: Sequence[str] = ()) -> tuple[list[str], float]:
    """The visible title and any notes under it ("Showing the first 20 of 35 ..."); the
    parts and the y where the chart below may start."""
    parts, y = [], 8.0
    if title:
        bold = {"font_size": 13, "font_weight": 600}
        parts.append(text(WIDTH / 2, 20, title, fit(WIDTH) - 12, text_anchor="middle", **bold))
        y = 28.0
    for note in notes:
        small = {"font_size": 10, "fill": MUTED}
        parts.append(text(WIDTH / 2, y + 10, note, fit(WIDTH), text_anchor="middle", **small))
        y += 14
    return parts, y + 6


def document(parts: Sequence[str], *, title: str, kind: str, height: float = HEIGHT) -> Markup:
    """One ``<svg>`` holding ``parts``: scalable (viewBox), its accessible name ``title``
    (or ``kind`` when there is no title)."""
    name, h = clean(title) or kind, math.ceil(height)
    attrs = {
        "xmlns": "http://www.w3.org/2000/svg",
        "viewBox": f"0 0 {WIDTH} {h}",
        "width": WIDTH,
        "height": h,
        "role": "img",
        "aria_label": name,
        "class_": "chart",
        "font_family": FONT,
        "font_size": 11,
        "fill": INK,
        "style": "max-width:100%;height:auto",
    }
    return Markup(el("svg", tooltip(name) + "".join(parts), **attrs))


def placeholder(title: str, kind: str, message: str = "No data") -> Markup:
    """A chart-sized ``<svg>`` that only says ``message`` (for empty or unusable input)."""
    parts, _ = header(title)
    frame = {"fill": "none", "stroke": GRID, "stroke_dasharray": "4 4"}
    parts.append(el("rect", x=12, y=36, width=WIDTH - 24, height=HEIGHT - 48, **frame))
    say = {"text_anchor": "middle", "fill": MUTED, "font_size": 13, "class_": "no-data"}
    parts.append(text(WIDTH / 2, HEIGHT / 2 + 10, message, **say))
    return document(parts, title=title, kind=kind)
