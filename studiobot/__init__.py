"""studiobot: the declaration assistant for trade-union innovation studios."""

__version__ = "0.1.0"
