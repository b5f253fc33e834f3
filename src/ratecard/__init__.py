"""ratecard: an AI model price catalog kept current by exactly one instance of a fleet."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ratecard")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
