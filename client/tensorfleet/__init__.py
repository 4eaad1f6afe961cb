"""TensorFleet's user-side package: the Python client of its HTTP API and the
``tensorfleet`` command line. HTTP only: it needs requests, click and rich, never the
server's code or scikit-learn.

    from tensorfleet import TensorFleetClient
    fleet = TensorFleetClient.from_env()  # $TENSORFLEET_URL, $TENSORFLEET_API_KEY
    job = fleet.wait(fleet.submit_job("iris", "knn")["job_id"], timeout=120)
"""

from tensorfleet._version import __version__
from tensorfleet.bodies import predict_body
from tensorfleet.client import TensorFleetClient
from tensorfleet.errors import (
    APIError,
    FormatError,
    IntegrityError,
    RequestTimeoutError,
    TensorFleetError,
    UnexpectedResponseError,
    UnreachableError,
)
from tensorfleet.statuses import ACTIVE, FINISHED, STATUSES
from tensorfleet.transport import DEFAULT_URL, RetryPolicy

__all__ = [
    "ACTIVE",
    "DEFAULT_URL",
    "FINISHED",
    "STATUSES",
    "APIError",
    "FormatError",
    "IntegrityError",
    "RequestTimeoutError",
    "RetryPolicy",
    "TensorFleetClient",
    "TensorFleetError",
    "UnexpectedResponseError",
    "UnreachableError",
    "__version__",
    "predict_body",
]
