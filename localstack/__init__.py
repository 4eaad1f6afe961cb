"""The embedded local stack of ``make run`` and of the integration tests."""

from localstack.config import SERVICES, ConfigError, StackConfig
from localstack.process import StackError, free_ports
from localstack.stack import LocalStack

__all__ = [
    "SERVICES",
    "ConfigError",
    "LocalStack",
    "StackConfig",
    "StackError",
    "free_ports",
]
