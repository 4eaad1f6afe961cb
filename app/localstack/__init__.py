"""The embedded local stack of ``make run`` and of the integration tests."""

from app.localstack.config import SERVICES, ConfigError, StackConfig
from app.localstack.process import StackError, free_ports
from app.localstack.stack import LocalStack

__all__ = [
    "SERVICES",
    "ConfigError",
    "LocalStack",
    "StackConfig",
    "StackError",
    "free_ports",
]
