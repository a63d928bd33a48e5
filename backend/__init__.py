"""alsats backend: the service that sells active-learning iterations over Lightning."""

__version__ = "0.1.0"
