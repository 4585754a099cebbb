"""Webhook trigger domain core: catalog, parameters, detection, events, watch state, callback rule.

Pure and host-free: nothing here imports ``azure.functions`` or a storage SDK, or does I/O (the
callback rule resolves host names only through an injectable resolver).

Modules: :mod:`.catalog` (trigger kinds and their subscribe operations), :mod:`.parameters`
(parameter names and declarations), :mod:`.subscribe` (what subscribe operations share, and the
unsubscribe operation), :mod:`.events` (events and notification payload), :mod:`.observations`
(poll snapshot and what completed since the watch state), :mod:`.rules` (per-kind detection
rules), :mod:`.detection` (one poll → events), :mod:`.watermark` (per-instance watch state),
:mod:`.thresholds` (edge-triggered threshold state), :mod:`.callback` (callback URL rule).
"""
from .callback import CallbackUrlError, CheckedCallback, check_callback_url, parse_allowed_hosts
from .catalog import CATALOG, TriggerKind, ensure_scalar_measure, trigger_kind
from .detection import Detection, detect, resources_for
from .events import Event
from .observations import Snapshot
from .rules import WatchedSubscription
from .subscribe import UNSUBSCRIBE
from .thresholds import ThresholdState
from .watermark import WatchState

__all__ = [
    "CATALOG", "UNSUBSCRIBE", "CallbackUrlError", "CheckedCallback", "Detection", "Event", "Snapshot",
    "ThresholdState", "TriggerKind", "WatchState", "WatchedSubscription", "check_callback_url", "detect",
    "ensure_scalar_measure", "parse_allowed_hosts", "resources_for", "trigger_kind",
]
