"""Bar charts drawn on the server: geometry here, the SVG in templates/admin/_chart.html (where
Jinja escapes every label). No script, no outside library.

Across, positions are percentages of the chart's width, so the bars stretch to any screen while
the labels keep their size in pixels and stay readable on a 360-px phone; up and down, pixels."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

HEIGHT = 190  # px
TOP, BOTTOM = 18, 34  # px above the highest bar (for the top tick's label) and below the baseline


@dataclass
class Bar:
    x: float  # % of the width
    width: float  # % of the width
    y: float  # px
    height: float  # px
    css: str
    title: str


@dataclass
class Chart:
    title: str
    bars: list[Bar] = field(default_factory=list)
    x_labels: list[tuple[float, str, str]] = field(default_factory=list)  # x %, month, year (or '')
    y_ticks: list[tuple[float, str]] = field(default_factory=list)  # y px, label
    legend: list[tuple[str, str]] = field(default_factory=list)  # css, label
    height: int = HEIGHT
    baseline: int = HEIGHT - BOTTOM


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 x 10^k at or above value (at least 1)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def bar_chart(
    title: str, labels: Sequence[tuple[str, str]], series: Sequence[tuple[str, str, Sequence[float | None]]],
    *, top: float | None = None, fmt: Callable[[float], str] = lambda v: f"{v:g}",
) -> Chart:
    """Grouped bars: one group a label (month, year), one bar a series (css, name, values); the
    year shows (as ’26) under the first month and under each January."""
    chart = Chart(title, legend=[(css, name) for css, name, _ in series])
    values = [v for _, _, vs in series for v in vs if v is not None]
    top = top or nice_ceiling(max(values, default=0))
    plot_h = chart.baseline - TOP
    slot = 100 / max(len(labels), 1)
    bar_w = slot * 0.76 / max(len(series), 1)
    for i, (month, year) in enumerate(labels):
        x0 = i * slot + slot * 0.12
        short_year = "\u2019" + year[-2:] if i == 0 or month == "Jan" else ""  # ’26: fits under a month on a phone
        chart.x_labels.append((round((i + 0.5) * slot, 2), month, short_year))
        for j, (css, name, vs) in enumerate(series):
            value = vs[i]
            if value is None:
                continue
            h = plot_h * min(value, top) / top
            chart.bars.append(Bar(round(x0 + j * bar_w, 2), round(bar_w, 2), round(chart.baseline - h, 1),
                                  round(h, 1), css, f"{name}, {month} {year}: {fmt(value)}"))
    for k in range(3):
        chart.y_ticks.append((round(chart.baseline - plot_h * k / 2, 1), fmt(top * k / 2)))
    return chart
