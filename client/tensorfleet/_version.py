"""The version of the ``tensorfleet-client`` distribution (read by its pyproject.toml)."""

__version__ = "0.1.0"
