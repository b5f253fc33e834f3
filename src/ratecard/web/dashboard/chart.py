"""A model's price history as an SVG step chart, computed server-side (no chart library).

Prices are steps, not slopes: a price holds from the change that set it until the next one,
so each series is drawn as horizontal runs joined by vertical jumps, extended to "now".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from ratecard.catalog.money import decimal_text
from ratecard.timetext import shown_time

WIDTH, HEIGHT = 640, 240
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 16, 12, 28
SERIES = ("input", "output")


@dataclass(frozen=True)
class PricePoint:
    """The prices per million tokens set at `at` (None: no such price, or the model removed)."""

    at: datetime
    input: Decimal | None
    output: Decimal | None


@dataclass(frozen=True)
class Marker:
    """One change on the chart: where it is and what its tooltip says."""

    x: float
    y: float
    label: str


@dataclass(frozen=True)
class Series:
    """One line (input or output price): its SVG path and change markers."""

    name: str
    path: str
    markers: tuple[Marker, ...]


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Chart:
    """Everything the template needs to draw the chart."""

    width: int
    height: int
    series: tuple[Series, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float

    @property
    def empty(self) -> bool:
        return not any(s.path for s in self.series)


def price_chart(
    points: Sequence[PricePoint], now: datetime, width: int = WIDTH, height: int = HEIGHT
) -> Chart:
    """Lay out the step chart of `points` (any order) from the first change until `now`."""
    ordered = sorted(points, key=lambda p: p.at)
    left, right = float(MARGIN_LEFT), float(width - MARGIN_RIGHT)
    top, bottom = float(MARGIN_TOP), float(height - MARGIN_BOTTOM)
    values = [v for p in ordered for v in (p.input, p.output) if v is not None]
    if not ordered or not values:
        return Chart(width, height, (), (), (), left, right, top, bottom)
    t0 = ordered[0].at.timestamp()
    t1 = max(now.timestamp(), ordered[-1].at.timestamp())
    span = max(t1 - t0, 1.0)
    step = nice_step(max(values) * Decimal("1.1") / 4)
    top_value = step * 4 or Decimal(1)  # all free: a flat line at 0

    def x(at: datetime) -> float:
        return round(left + (at.timestamp() - t0) / span * (right - left), 2)

    def y(value: Decimal) -> float:
        return round(bottom - float(value / top_value) * (bottom - top), 2)

    series = tuple(
        _series(name, ordered, x, y, x(now) if now.timestamp() > t0 else right) for name in SERIES
    )
    y_ticks = tuple(Tick(y(top_value * k / 4), decimal_text(top_value * k / 4)) for k in range(5))
    first, last = time_axis_labels(ordered[0].at, max(now, ordered[-1].at))
    x_ticks = (Tick(left, first), Tick(right, last))
    return Chart(width, height, series, x_ticks, y_ticks, left, right, top, bottom)


def time_axis_labels(start: datetime, end: datetime) -> tuple[str, str]:
    """The time axis's two end labels: the dates, or the dates and minutes when both ends fall
    on one day (a history of a few hours would otherwise read "2026-12-06 … 2026-12-06")."""
    first, last = shown_time(start) or "", shown_time(end) or ""
    if first[:10] != last[:10]:
        return first[:10], last[:10]
    return first[:16].replace("T", " "), last[:16].replace("T", " ")


def nice_step(raw: Decimal) -> Decimal:
    """The smallest of 1, 2, 2.5 and 5 times a power of ten at least `raw` (0 for 0): ticks a
    reader takes in at a glance (0, 2, 4, 6, 8), not 0, 2.0625, 4.125..."""
    if raw <= 0:
        return Decimal(0)
    power = Decimal(10) ** (raw.adjusted())
    for factor in (1, 2, Decimal("2.5"), 5, 10):
        if power * factor >= raw:
            return (power * factor).normalize()
    raise AssertionError("unreachable: 10 times the power is at least raw")


def _series(
    name: str,
    ordered: Sequence[PricePoint],
    to_x: Callable[[datetime], float],
    to_y: Callable[[Decimal], float],
    x_end: float,
) -> Series:
    commands: list[str] = []
    markers: list[Marker] = []
    previous_y: float | None = None
    for point in ordered:
        value = getattr(point, name)
        px = to_x(point.at)
        if value is None:
            if previous_y is not None:
                commands.append(f"H{px}")
            previous_y = None  # a gap: the model had no such price (or was removed)
            continue
        py = to_y(value)
        if py == previous_y:
            continue  # another price of the model moved, not this one
        if previous_y is None:
            commands.append(f"M{px},{py}")
        else:
            commands.append(f"H{px}V{py}")
        previous_y = py
        label = f"{name} ${decimal_text(value)} / M tokens from {shown_time(point.at)}"
        markers.append(Marker(px, py, label))
    if previous_y is not None:
        commands.append(f"H{x_end}")
    return Series(name, "".join(commands), tuple(markers))
