"""The price history step chart: geometry computed from history points."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ratecard.web.dashboard.chart import (
    HEIGHT,
    MARGIN_BOTTOM,
    MARGIN_TOP,
    PricePoint,
    price_chart,
    time_axis_labels,
)

T0 = datetime(2026, 3, 14, tzinfo=UTC)
NOW = T0 + timedelta(days=100)


def test_no_history_gives_an_empty_chart() -> None:
    assert price_chart([], NOW).empty
    assert price_chart([PricePoint(T0, None, None)], NOW).empty


def test_a_price_change_is_a_step_extended_until_now() -> None:
    change = T0 + timedelta(days=50)
    chart = price_chart(
        [PricePoint(change, Decimal(4), Decimal(8)), PricePoint(T0, Decimal(2), Decimal(8))], NOW
    )
    series = {s.name: s for s in chart.series}
    path = series["input"].path
    # Move to the first price, run flat to the change, jump, run flat to now.
    assert path.startswith(f"M{chart.plot_left},")
    assert path.count("H") == 2 and path.count("V") == 1
    assert path.endswith(f"H{chart.plot_right}")
    first, second = series["input"].markers
    assert first.x < second.x and second.y < first.y  # later and higher on screen
    middle = chart.plot_left + (chart.plot_right - chart.plot_left) / 2
    assert abs(second.x - middle) < 1  # day 50 of 100
    assert "$4" in second.label
    # The output price never moved: one flat line.
    assert "V" not in series["output"].path


def test_the_highest_price_fits_inside_the_plot() -> None:
    chart = price_chart([PricePoint(T0, Decimal("2500"), Decimal("10"))], NOW)
    for series in chart.series:
        for marker in series.markers:
            assert MARGIN_TOP <= marker.y <= HEIGHT - MARGIN_BOTTOM
    assert chart.y_ticks[0].label == "0"


def test_a_removed_model_leaves_a_gap() -> None:
    chart = price_chart(
        [
            PricePoint(T0, Decimal(1), None),
            PricePoint(T0 + timedelta(days=10), None, None),
            PricePoint(T0 + timedelta(days=20), Decimal(1), None),
        ],
        NOW,
    )
    path = next(s for s in chart.series if s.name == "input").path
    assert path.count("M") == 2  # two separate runs


def test_the_price_axis_ticks_are_round_numbers() -> None:
    from decimal import Decimal

    from ratecard.web.dashboard.chart import nice_step

    assert [nice_step(Decimal(v)) for v in ("2.0625", "0.0275", "1", "0.3", "7.4")] == [
        Decimal("2.5"),
        Decimal("0.05"),
        Decimal("1"),
        Decimal("0.5"),
        Decimal("10"),
    ]
    assert nice_step(Decimal(0)) == 0
    now = datetime(2026, 7, 24, tzinfo=UTC)
    chart = price_chart([PricePoint(now, Decimal("0.4"), Decimal("7.5"))], now)
    assert [tick.label for tick in chart.y_ticks] == ["0", "2.5", "5", "7.5", "10"]


def test_the_time_axis_names_the_dates_or_the_minutes_within_one_day() -> None:
    chart = price_chart([PricePoint(T0, Decimal(2), Decimal(8))], NOW)
    assert [t.label for t in chart.x_ticks] == ["2026-03-14", "2026-06-22"]
    morning = T0 + timedelta(hours=9, minutes=5)
    assert time_axis_labels(morning, morning + timedelta(hours=3, minutes=30)) == (
        "2026-03-14 09:05",
        "2026-03-14 12:35",
    )
