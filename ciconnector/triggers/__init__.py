"""Webhook trigger domain core: catalog, validation, detection, events, watch state, callback rule.

Pure and host-free: nothing here imports ``azure.functions`` or a storage SDK, or does I/O (the
callback rule resolves host names only through an injectable resolver).

Modules: :mod:`.catalog` (trigger kinds), :mod:`.parameters` (parameter declaration and
validation), :mod:`.events` (events and notification payload), :mod:`.observations` (poll
snapshot and what completed since the watch state), :mod:`.rules` (per-kind detection rules),
:mod:`.detection` (one poll → events), :mod:`.watermark` (per-instance watch state),
:mod:`.thresholds` (edge-triggered threshold state), :mod:`.callback` (callback URL rule).
"""
from .callback import CallbackUrlError, CheckedCallback, check_callback_url, parse_allowed_hosts
from .catalog import CATALOG, TriggerKind, ensure_scalar_measure, validate_subscription
from .detection import Detection, detect, resources_for
from .events import Event
from .observations import Snapshot
from .parameters import Parameter, SubscriptionValidationError
from .rules import WatchedSubscription
from .thresholds import ThresholdState
from .watermark import WatchState

__all__ = [
    "CATALOG", "CallbackUrlError", "CheckedCallback", "Detection", "Event", "Parameter",
    "Snapshot", "SubscriptionValidationError", "ThresholdState", "TriggerKind", "WatchState",
    "WatchedSubscription", "check_callback_url", "detect", "ensure_scalar_measure", "parse_allowed_hosts",
    "resources_for", "validate_subscription",
]
