"""Client of the Dynamics 365 Customer Insights API v1."""
from .ci_errors import (
                     AuthenticationError,
                     BadRequestError,
                     CustomerInsightsError,
                     NotFoundError,
                     PermissionDeniedError,
                     ServiceError,
                     ThrottledError,
                     UnexpectedResponseError,
)
from .client import CustomerInsightsClient, DataPage
from .models import DataSource, Instance, Job, Measure, Segment, StatusNode, Task

__all__ = [
    "CustomerInsightsClient", "DataPage", "CustomerInsightsError", "AuthenticationError", "BadRequestError",
    "NotFoundError", "PermissionDeniedError",
    "ServiceError", "ThrottledError", "UnexpectedResponseError", "DataSource", "Instance",
    "Job", "Measure", "Segment", "StatusNode", "Task",
]
