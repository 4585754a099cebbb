"""The one mapping from azure-core errors to the error contract (what every Table and Queue store raises)."""
import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
)

from ciconnector.errors import ConcurrentChange, StorageUnavailable
from ciconnector.operations.answers import error_answer
from ciconnector.storage.azure_errors import mapped
from ciconnector.storage.subscriptions import SubscriptionNotFoundError


def raised(error: Exception, **options) -> Exception:
    with pytest.raises(Exception) as caught, mapped("subscription", **options):
        raise error
    return caught.value


def test_not_found_is_the_store_s_own_error_on_a_read_and_a_lost_race_on_a_write():
    assert isinstance(raised(ResourceNotFoundError("404"), missing=SubscriptionNotFoundError),
                      SubscriptionNotFoundError)
    assert isinstance(raised(ResourceNotFoundError("404")), ConcurrentChange)


@pytest.mark.parametrize("error", [ResourceModifiedError("412"), ResourceExistsError("409")])
def test_etag_and_existence_conflicts_are_concurrent_changes(error):
    assert error_answer(raised(error), operation="Op").status == 409


@pytest.mark.parametrize("error", [ServiceRequestError("connection refused"), ClientAuthenticationError("403")])
def test_other_storage_failures_are_503_like_the_answer_table_says(error):
    mapped_error = raised(error)
    assert isinstance(mapped_error, StorageUnavailable)
    assert error_answer(mapped_error, operation="Op") == error_answer(error, operation="Op")
