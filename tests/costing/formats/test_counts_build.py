"""counts.new_usage / new_read: the readers' fast builders are the NamedTuples' constructors.

They build the tuple field by field in order; a field added to Usage or ReadUsage, or two
swapped, must show here rather than as a quantity priced at another price.
"""

from __future__ import annotations

from ratecard.costing.formats.counts import new_read, new_usage
from ratecard.costing.usage import ReadUsage, StatedUplift, Usage

# Every keyword new_usage takes: what some usage block counts (every token quantity, the web
# searches a response reports, a transcription's seconds, OCR pages, Cohere's search units).
READ_QUANTITIES = (
    *(f for f in Usage._fields if f.endswith("_tokens")),
    "web_search_calls",
    "seconds",
    "pages",
    "annotation_pages",
    "queries",
)
assert len(READ_QUANTITIES) == 15


def test_new_usage_is_usage_field_by_field() -> None:
    assert new_usage() == Usage()
    assert type(new_usage()) is Usage
    for value, name in enumerate(READ_QUANTITIES, start=1):
        built = new_usage(**{name: value})
        assert built == Usage(**{name: value}), name
        assert getattr(built, name) == value
        assert len(built) == len(Usage._fields)
    every = {name: value for value, name in enumerate(READ_QUANTITIES, start=1)}
    assert new_usage(**every) == Usage(**every)


def test_new_read_is_read_usage_field_by_field() -> None:
    usage = Usage(input_tokens=3)
    assert new_read(usage, "gemini") == ReadUsage(usage=usage, format="gemini")
    geo = StatedUplift("region", "us", "usage.inference_geo")
    built = new_read(
        usage, "anthropic", "claude", "priority", {"toolUsePromptTokenCount": 4}, ("n",), (geo,)
    )
    assert type(built) is ReadUsage
    assert built == ReadUsage(
        usage=usage,
        format="anthropic",
        model="claude",
        service_tier="priority",
        unpriced={"toolUsePromptTokenCount": 4},
        notes=("n",),
        uplifts=(geo,),
    )
    assert built.unpriced == {"toolUsePromptTokenCount": 4}
    assert (built.notes, built.uplifts) == (("n",), (geo,))
    assert len(built) == len(ReadUsage._fields)
