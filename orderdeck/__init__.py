"""orderdeck: a terminal operations console for e-commerce order tracking."""

from store import __version__

__all__ = ["__version__"]
