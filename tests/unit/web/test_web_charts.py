"""app.web.charts (and its app.web.svg helpers): well-formed, self-contained, escaped SVG."""

from __future__ import annotations

import math
import random
import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

import app.api  # noqa: F401  (first, as the app does: importing app.web first is circular)
from app.web import charts
from app.web.svg import nice_ticks

SVG = "{http://www.w3.org/2000/svg}"
NAN = float("nan")


def parse(svg: Markup) -> ET.Element:
    """The ``<svg>`` root, after checking what every chart must be."""
    assert isinstance(svg, Markup)
    root = ET.fromstring(str(svg))  # raises if not well-formed XML
    assert root.tag == f"{SVG}svg" and root.get("role") == "img" and root.get("aria-label")
    assert root.get("viewBox", "").startswith("0 0 480 ")
    assert root[0].tag == f"{SVG}title" and root[0].text == root.get("aria-label")
    markup = str(svg).lower()
    assert "<script" not in markup and "href" not in markup and " id=" not in markup
    assert markup.count("http") == 1  # the xmlns only: no external assets
    width, height = (float(v) for v in root.get("viewBox", "").split()[2:])
    for element in root.iter():
        for name in ("x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "width", "height"):
            if element.get(name) is not None:
                value = float(element.get(name, ""))
                assert math.isfinite(value) and -1 <= value <= max(width, height) + 1, name
    return root


def find(root: ET.Element, css_class: str) -> list[ET.Element]:
    """Elements whose class list includes ``css_class``."""
    return [e for e in root.iter() if css_class in (e.get("class") or "").split()]


def texts(root: ET.Element) -> list[str]:
    """The visible text of every ``<text>`` (a truncated one's tooltip not included)."""
    return [
        "".join(t.itertext()) if t.find(f"{SVG}title") is None else (t[0].tail or "")
        for t in root.iter(f"{SVG}text")
    ]


def is_placeholder(root: ET.Element) -> bool:
    return bool(find(root, "no-data"))


# -- bar_chart -----------------------------------------------------------------------------
def test_bar_chart_draws_one_bar_per_value_and_a_gap_for_none() -> None:
    series = {"iris_rf v3": [0.97, 0.95, 0.99], "iris_knn v1": [0.93, None, NAN]}
    root = parse(charts.bar_chart(["accuracy", "f1", "auc"], series, title="Metrics"))
    bars = find(root, "bar")
    assert len(bars) == 4
    fills = [b.get("fill") for b in bars]  # by group, then series: rf, knn, rf, rf
    assert fills[0] == fills[2] == fills[3] != fills[1]
    assert {"iris_rf v3", "iris_knn v1", "accuracy", "f1", "auc", "Metrics"} <= set(texts(root))
    tallest = max(bars, key=lambda b: float(b.get("height", 0)))
    assert "iris_rf v3 · auc: 0.99" in (tallest.findtext(f"{SVG}title") or "")


def test_bar_chart_handles_negative_values_and_caps_groups() -> None:
    root = parse(charts.bar_chart(["r2"], {"v1": [-0.5], "v2": [0.25]}))
    assert len(find(root, "bar")) == 2
    labels = [f"m{i}" for i in range(40)]
    root = parse(charts.bar_chart(labels, {"v1": list(range(40))}))
    assert len(find(root, "bar")) == charts.MAX_GROUPS
    assert any("first 15 of 40 groups" in t for t in texts(root))


# -- hbar_chart ----------------------------------------------------------------------------
def test_hbar_chart_prints_each_value_at_its_bar() -> None:
    root = parse(charts.hbar_chart(["petal_length", "petal_width", "sepal"], [0.56, 0.41, 0.03]))
    assert len(find(root, "bar")) == 3
    assert {"0.56", "0.41", "0.03", "petal_length"} <= set(texts(root))
    widths = [float(b.get("width", 0)) for b in find(root, "bar")]
    assert widths == sorted(widths, reverse=True) and widths[0] > 10 * widths[2]


def test_hbar_chart_caps_at_30_bars_and_grows_taller() -> None:
    few = parse(charts.hbar_chart(["a", "b"], [2, 1]))
    many = parse(
        charts.hbar_chart([f"f{i}" for i in range(45)], [1.0 / (i + 1) for i in range(45)])
    )
    assert len(find(many, "bar")) == 30 and any("30 of 45" in t for t in texts(many))
    assert float(many.get("viewBox", "").split()[3]) > float(few.get("viewBox", "").split()[3])


# -- heatmap -------------------------------------------------------------------------------
def test_heatmap_has_a_cell_and_count_per_entry_shaded_by_row_share() -> None:
    matrix = [[9, 1, 0], [90, 10, 0], [0, 0, 5]]
    root = parse(charts.heatmap(matrix, ["setosa", "versicolor", "virginica"]))
    cells = find(root, "cell")
    assert len(cells) == 9
    assert {"9", "1", "90", "10", "5", "predicted", "actual", "Confusion matrix"} <= set(
        texts(root)
    )
    fill = [[cells[3 * i + j].get("fill") for j in range(3)] for i in range(3)]
    assert fill[0][0] == fill[1][0] and fill[0][1] == fill[1][1]  # 90% and 10% of each row
    assert fill[0][0] != fill[0][1] and fill[2][2] != fill[0][0]  # 100% is darker still
    assert fill[0][2] == fill[2][0]  # zero


def test_heatmap_numbers_missing_labels_and_caps_classes() -> None:
    root = parse(charts.heatmap([[1, 2], [3, 4]], []))
    assert {"0", "1"} <= set(texts(root))
    big = [[i * j for j in range(25)] for i in range(25)]
    root = parse(charts.heatmap(big, [str(i) for i in range(25)]))
    assert len(find(root, "cell")) == 400 and any("20 of 25" in t for t in texts(root))


# -- line_chart ----------------------------------------------------------------------------
def test_line_chart_draws_each_series_and_the_chance_diagonal() -> None:
    roc = ([0, 0.1, 0.4, 1], [0, 0.7, 0.9, 1])
    root = parse(charts.line_chart({"v1 AUC 0.9": roc, "v2": roc}, title="ROC", diagonal=True))
    assert len(find(root, "line")) == 2 and len(find(root, "diagonal")) == 1
    assert find(root, "diagonal")[0].get("stroke-dasharray")
    root = parse(charts.line_chart({"pr": roc}))
    assert not find(root, "diagonal")


def test_line_chart_breaks_at_nan_and_marks_lone_points() -> None:
    root = parse(
        charts.line_chart({"a": ([0, 0.2, None, 0.6, 0.8, NAN, 1], [0, 1, 2, 3, 4, 5, 6])})
    )
    assert len(find(root, "line")) == 3  # runs: 2 points, 2 points, 1 point
    assert len(find(root, "point")) == 1
    single = parse(charts.line_chart({"one": ([0.5], [0.5])}))
    assert len(find(single, "point")) == 1


def test_line_chart_clamps_to_its_ranges_and_survives_a_bad_range() -> None:
    root = parse(charts.line_chart({"a": ([-5, 0.5, 9], [-1, 0.5, 7])}, x_range=(1, 1)))
    assert len(find(root, "line")) == 1


# -- scatter_chart -------------------------------------------------------------------------
def test_scatter_chart_highlights_the_best_point() -> None:
    points = [(0.001, 0.8), (0.01, 0.85), (0.1, 0.9), (1.0, 0.95), (10.0, 0.9)]
    root = parse(charts.scatter_chart(points, title="score vs C", log_x=True, highlight=3))
    assert len(find(root, "point")) == 5 and len(find(root, "best")) == 1
    best = find(root, "best")[0]
    assert float(best.get("r", 0)) > float(find(root, "point")[0].get("r", 0))
    assert {"0.001", "0.01", "0.1", "1", "10", "best"} <= set(texts(root))


def test_scatter_log_axis_leaves_out_non_positive_x_with_a_note() -> None:
    root = parse(charts.scatter_chart([(0, 0.5), (-1, 0.6), (10, 0.7), (100, 0.8)], log_x=True))
    assert len(find(root, "point")) == 2
    assert any("2 point(s) with x <= 0" in t for t in texts(root))


def test_scatter_categorical_x_spaces_categories_evenly_with_none_last() -> None:
    points = [(None, 0.9), (3, 0.8), ("auto", 0.85), (10, 0.7), (3, 0.82), (None, 0.91)]
    root = parse(charts.scatter_chart(points, x_label="max_depth", highlight=0))
    assert len(find(root, "point")) == 6
    labels = [t for t in texts(root) if t in {"3", "10", "auto", "None"}]
    assert labels == ["3", "10", "auto", "None"]
    best = find(root, "best")[0]
    assert "max_depth = None" in (best.findtext(f"{SVG}title") or "")


def test_scatter_caps_categories_and_drops_missing_scores() -> None:
    points = [(f"c{i:02d}", float(i)) for i in range(30)] + [("c00", None), ("c01", NAN)]
    root = parse(charts.scatter_chart(points))  # type: ignore[arg-type]
    assert len(find(root, "point")) == 20 and any("20 of 30" in t for t in texts(root))


def test_scatter_single_point_and_all_equal_values() -> None:
    assert len(find(parse(charts.scatter_chart([(5, 0.5)])), "point")) == 1
    root = parse(charts.scatter_chart([(i, 0.5) for i in range(1, 6)], highlight=99))
    assert len(find(root, "point")) == 5 and not find(root, "best")


# -- every chart ---------------------------------------------------------------------------
EMPTY = [
    lambda: charts.bar_chart([], {}, title="Nothing"),
    lambda: charts.bar_chart(["a", "b"], {"v1": [None, NAN]}),
    lambda: charts.hbar_chart([], []),
    lambda: charts.hbar_chart(["a"], [NAN]),
    lambda: charts.heatmap([], []),
    lambda: charts.heatmap([[]], ["a"]),
    lambda: charts.line_chart({}),
    lambda: charts.line_chart({"a": ([], [])}),
    lambda: charts.line_chart({"a": ([NAN], [0.5])}),
    lambda: charts.scatter_chart([]),
    lambda: charts.scatter_chart([(1, None)]),  # type: ignore[list-item]
    lambda: charts.scatter_chart([(0, 1.0)], log_x=True),
]


@pytest.mark.parametrize("draw", EMPTY)
def test_nothing_to_draw_gives_a_no_data_placeholder(draw) -> None:
    root = parse(draw())
    assert is_placeholder(root) and "No data" in texts(root)


def _every_chart(label: str) -> list[Markup]:
    return [
        charts.bar_chart([label, "b"], {label: [1, 2]}, title=label, y_label=label),
        charts.hbar_chart([label], [0.5], title=label),
        charts.heatmap([[1, 2], [3, 4]], [label, "b"], title=label, x_label=label),
        charts.line_chart({label: ([0, 1], [0, 1])}, title=label, x_label=label),
        charts.scatter_chart([(label, 0.5), ("b", 0.7)], title=label, x_label=label),
    ]


def test_text_is_escaped_everywhere() -> None:
    evil = '<script>alert("x")</script> & co'
    for svg in _every_chart(evil):
        root = parse(svg)
        assert "&lt;script&gt;" in str(svg)
        shown = [t for t in root.iter() if evil in "".join(t.itertext())]
        assert shown, "the label round-trips through the XML unchanged"


def test_long_labels_are_cut_with_an_ellipsis_and_kept_whole_in_a_title() -> None:
    long = "a_really_long_feature_name_that_goes_on_and_on_and_on_" * 3
    for svg in _every_chart(long):
        root = parse(svg)
        cut = [t for t in root.iter(f"{SVG}text") if t.findtext(f"{SVG}title") == long]
        assert cut and all((t[0].tail or "").endswith("…") for t in cut)
        assert all(len(t[0].tail or "") < len(long) for t in cut)


def test_control_characters_do_not_break_the_xml() -> None:
    for svg in _every_chart("bad\x00\x07\x1bname"):
        assert "badname" in "".join(parse(svg).itertext())


def test_non_string_labels_and_series_names_are_accepted() -> None:
    parse(charts.bar_chart([1, 2], {3: [1, 2]}))  # type: ignore[list-item,dict-item]
    parse(charts.heatmap([[1, 0], [0, 1]], [0, 1]))  # type: ignore[list-item]


# -- nice ticks ----------------------------------------------------------------------------
def test_nice_ticks_of_common_ranges() -> None:
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0, 0.97) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0, 37) == [0, 10, 20, 30, 40]
    assert nice_ticks(-0.3, 1.2) == [-0.5, 0, 0.5, 1.0, 1.5]
    flat = nice_ticks(5, 5)  # one value: widened around it
    assert flat[0] < 5 < flat[-1] and len(flat) >= 3
    assert nice_ticks(NAN, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]


def test_nice_ticks_cover_any_range_with_a_few_round_steps() -> None:
    rng = random.Random(0)
    for _ in range(2000):
        lo = rng.uniform(-1e6, 1e6) * 10 ** rng.randint(-8, 0)
        hi = lo + max(abs(lo), 1e-3) * 10 ** rng.uniform(-5, 3)  # spans floats can tell apart
        ticks = nice_ticks(lo, hi)
        assert ticks[0] <= lo and ticks[-1] >= hi and 2 <= len(ticks) <= 12, (lo, hi, ticks)
        step = ticks[1] - ticks[0]
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert min(abs(mantissa - m) for m in (1, 2, 5, 10)) < 1e-6, (lo, hi, ticks)
