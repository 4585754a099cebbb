"""Client of the Dynamics 365 Customer Insights API v1."""
from .client import CustomerInsightsClient, DataPage
from .errors import (
                     AuthenticationError,
                     BadRequestError,
                     CustomerInsightsError,
                     NotFoundError,
                     PermissionDeniedError,
                     ServiceError,
                     ThrottledError,
                     UnexpectedResponseError,
)
from .models import DataSource, Instance, Job, Measure, Segment, StatusNode, Task

__all__ = [
    "CustomerInsightsClient", "DataPage", "CustomerInsightsError", "AuthenticationError", "BadRequestError",
    "NotFoundError", "PermissionDeniedError",
    "ServiceError", "ThrottledError", "UnexpectedResponseError", "DataSource", "Instance",
    "Job", "Measure", "Segment", "StatusNode", "Task",
]
