"""Bar charts as geometry for server-rendered SVG (no JavaScript chart library)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    highlight: bool = False
    expected_y: float | None = None  # a tick for the expected value


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    max_value: float
    title: str


def bar_chart(
    values: list[tuple[str, float, float | None, bool]],
    *,
    title: str,
    width: int = 680,
    height: int = 160,
) -> Chart:
    """`values`: (label, observed, expected or None, highlighted) per bar."""
    peak = max([max(v[1], v[2] or 0) for v in values] + [1])
    count = max(len(values), 1)
    step = width / count
    gap = 1 if step > 3 else 0
    bars = []
    for index, (label, observed, expected, highlight) in enumerate(values):
        bar_height = height * observed / peak
        bars.append(
            Bar(
                x=round(index * step, 2),
                y=round(height - bar_height, 2),
                width=round(max(step - gap, 0.5), 2),
                height=round(bar_height, 2),
                label=label,
                highlight=highlight,
                expected_y=None
                if expected is None
                else round(height - height * expected / peak, 2),
            )
        )
    return Chart(width=width, height=height, bars=bars, max_value=peak, title=title)


@dataclass(frozen=True)
class Row:
    """One horizontal bar: its label on the left, its value as text after the bar."""

    y: float
    width: float
    label: str
    value: int
    text_x: float
    text_y: float
    leading: bool  # the most votes (ties included)


@dataclass(frozen=True)
class RankingChart:
    width: int
    height: int
    bar_x: int
    bar_height: int
    rows: list[Row]


def ranking_chart(
    values: list[tuple[str, int]],
    *,
    width: int = 360,
    row_height: int = 26,
    label_width: int = 44,
    value_width: int = 64,
) -> RankingChart:
    """Horizontal bars, one per `(label, value)` in the order given (a ranking), scaled
    to the largest value: narrow enough for a phone at 1:1, each value also as text."""
    peak = max([value for _, value in values] + [1])
    bar_room = width - label_width - value_width
    bar_height = row_height - 8
    rows = []
    for index, (label, value) in enumerate(values):
        y = index * row_height + 4
        bar = round(bar_room * value / peak, 2)
        rows.append(
            Row(
                y=y,
                width=max(bar, 1) if value else 0,
                label=label,
                value=value,
                text_x=round(label_width + bar + 6, 2),
                text_y=y + bar_height - 4,
                leading=bool(value) and value == peak,
            )
        )
    return RankingChart(
        width=width,
        height=max(len(values), 1) * row_height,
        bar_x=label_width,
        bar_height=bar_height,
        rows=rows,
    )
