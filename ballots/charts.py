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
