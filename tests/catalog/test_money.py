"""decimal_text: exact decimal text, never an exponent, whatever form str() would take."""

from __future__ import annotations

import random
from decimal import Decimal

from ratecard.catalog.money import EXACT, decimal_text


def reference(value: Decimal) -> str:
    """The plain definition: fixed-point text, trailing zeros and a bare point dropped."""
    if value == 0:
        return "0"
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def test_decimal_text_is_the_fixed_point_text_for_any_exponent() -> None:
    rng = random.Random(5)
    for _ in range(20_000):
        digits = rng.choice(["0", "1", "25", "30864", "2999990000000000200", "10"])
        value = Decimal(f"{rng.choice(['', '-'])}{digits}E{rng.randint(-40, 12)}")
        text = decimal_text(value)
        assert text == reference(value), value
        assert "E" not in text and "e" not in text
        assert Decimal(text) == value


def test_products_of_counts_and_prices_render_exactly() -> None:
    assert decimal_text(EXACT.multiply(1, Decimal("1E-7"))) == "0.0000001"
    assert decimal_text(EXACT.multiply(123456, Decimal("0.0000025"))) == "0.30864"
    assert decimal_text(Decimal("1E+2")) == "100"
    assert decimal_text(Decimal("0E-7")) == "0"
    assert decimal_text(Decimal("-0.50")) == "-0.5"
