"""The real feed snapshots in tests/data are exact copies: the suite depends on nothing outside
the repository, and an edited, re-indented or missing copy fails here rather than elsewhere."""

from __future__ import annotations

import hashlib

from tests.support.services import FEED_DATA, feed_checksums


def test_every_snapshot_matches_its_recorded_checksum():
    checksums = feed_checksums()
    assert set(checksums) == {
        "litellm_2026-03-14.json",
        "litellm_2026-07-24.json",
        "openrouter_models_2026-08-19.json",
        "openrouter_models_edge_cases.json",
        "genai_prices_2026-07-25.json",
        "genai_prices_data.schema.json",
    }
    for name, digest in checksums.items():
        assert hashlib.sha256((FEED_DATA / name).read_bytes()).hexdigest() == digest, name


def test_the_data_folder_holds_only_the_listed_snapshots():
    listed = set(feed_checksums()) | {"README.md", "SHA256SUMS"}
    # Sub-folders hold other fixtures (conformance cases, recorded provider responses).
    assert {path.name for path in FEED_DATA.iterdir() if not path.is_dir()} == listed
