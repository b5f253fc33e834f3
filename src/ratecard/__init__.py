"""ratecard: an AI model price catalog kept current by exactly one instance of a fleet."""

# The single source of the version (pyproject reads it): a literal, because looking it up with
# importlib.metadata costs ~40 ms at every process start.
__version__ = "0.1.0"

__all__ = ["__version__"]
