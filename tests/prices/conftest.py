"""Fixtures for the price domain tests (the feed server lives in tests/conftest.py)."""
