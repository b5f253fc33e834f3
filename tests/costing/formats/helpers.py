"""What the format tests share: the recorded bodies' folder, and catching a UsageError."""

from __future__ import annotations

from typing import Any

import pytest

from ratecard.costing.usage import UsageError
from tests.support.services import FEED_DATA

# Recorded provider bodies and their expected partitions (see its README).
RESPONSES = FEED_DATA / "responses"


def refused(call: Any, *args: Any, **kwargs: Any) -> UsageError:
    """The UsageError `call(*args, **kwargs)` raises (the test fails if it raises none)."""
    with pytest.raises(UsageError) as caught:
        call(*args, **kwargs)
    return caught.value
