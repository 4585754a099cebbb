"""The one mapping from azure-core exceptions to the error contract, used by every Table and Queue store.

Stores run each SDK call inside :func:`mapped`, so callers see only :mod:`ciconnector.errors` types
(the in-memory stores of :mod:`.memory` raise the same ones):

* 404 ``ResourceNotFoundError`` → the store's :class:`~ciconnector.errors.RecordNotFound` subclass
  for a read (``missing``), or :class:`~ciconnector.errors.ConcurrentChange` for a conditional write
  (the row vanished since it was read);
* 412 ``ResourceModifiedError`` and 409 ``ResourceExistsError`` → ``ConcurrentChange``;
* a ``TableTransactionError`` (an entity-group transaction failed as a whole) by the status of the
  operation that failed, as above: 404 → ``missing``/``ConcurrentChange``, 409/412 → ``ConcurrentChange``;
* any other ``AzureError`` (timeouts, 5xx, refused credentials) →
  :class:`~ciconnector.errors.StorageUnavailable` (503 with ``Retry-After``), logged by kind only.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Callable, Iterator

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableTransactionError

from ..errors import ConcurrentChange, RecordNotFound, StorageUnavailable

logger = logging.getLogger(__name__)


@contextmanager
def mapped(what: str, *, missing: Callable[[], RecordNotFound] | None = None) -> Iterator[None]:
    """Map the SDK errors of the calls inside the block; ``what`` names the record in messages."""
    try:
        yield
    except ResourceNotFoundError:
        raise (missing() if missing else ConcurrentChange(what)) from None
    except (ResourceModifiedError, ResourceExistsError):
        raise ConcurrentChange(what) from None
    except TableTransactionError as exc:
        if exc.status_code == 404:
            raise (missing() if missing else ConcurrentChange(what)) from None
        if exc.status_code in (409, 412):
            raise ConcurrentChange(what) from None
        logger.error("storage failure on %s: %s %s", what, type(exc).__name__, exc.status_code)
        raise StorageUnavailable() from exc
    except AzureError as exc:
        logger.error("storage failure on %s: %s", what, type(exc).__name__)
        raise StorageUnavailable() from exc
