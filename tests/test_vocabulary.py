"""One vocabulary: members are their strings, and the feed kinds agree everywhere."""

from __future__ import annotations

import json
from typing import get_args

import pytest

from ratecard import settings
from ratecard.ingest.feeds import PARSERS
from ratecard.vocabulary import FEED_KINDS, ChangeKind, JobName, PriceStatus, RunOutcome
from ratecard.web.state import ComponentMissing, RatecardState


def test_members_are_the_strings_stored_and_served() -> None:
    assert JobName.REFRESH == "refresh"
    assert f"{RunOutcome.SUCCESS}" == "success"
    assert json.dumps({"status": PriceStatus.DYNAMIC}) == '{"status": "dynamic"}'
    assert [str(kind) for kind in ChangeKind] == ["added", "changed", "removed", "restored"]
    # A value read back from the database is a plain str; it must still find its member.
    assert PriceStatus("unpriced") is PriceStatus.UNPRICED


def test_the_kinds_settings_accept_are_the_registered_feed_parsers() -> None:
    assert tuple(PARSERS) == FEED_KINDS
    assert tuple(settings.SOURCE_KINDS) == FEED_KINDS


def test_an_unregistered_component_is_a_clear_error() -> None:
    state = RatecardState(settings.Settings.from_env({}))
    assert state.catalog_cache is None and state.coordinator is None
    with pytest.raises(ComponentMissing, match=r"catalog cache .* not registered"):
        state.need_catalog_cache()
    with pytest.raises(ComponentMissing, match="coordinator"):
        state.need_coordinator()


def test_the_api_schema_lists_exactly_the_price_statuses() -> None:
    from ratecard.web.api.schemas import Status

    assert get_args(Status) == tuple(PriceStatus)
