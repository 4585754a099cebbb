"""Webhook trigger domain core: catalog, parameters, detection, events, watch state, callback rule.

Pure and host-free: nothing here imports ``azure.functions`` or a storage SDK, or does I/O (the
callback rule resolves host names only through an injectable resolver).

Modules: :mod:`.catalog` (trigger kinds and their subscribe operations), :mod:`.parameters`
(parameter names and declarations), :mod:`.subscribe` (what subscribe operations share, and the
unsubscribe operation), :mod:`.events` (events and notification payload), :mod:`.observations`
(poll snapshot and the outcomes of the job history), :mod:`.rules` (per-kind detection
rules), :mod:`.detection` (one poll → events), :mod:`.job_history` (the cursor over the job history),
:mod:`.thresholds` (edge-triggered threshold state), :mod:`.callback` (callback URL rule).
"""
from .callback import CallbackUrlError, CheckedCallback, check_callback_url, parse_allowed_hosts
from .catalog import CATALOG, TriggerKind, ensure_scalar_measure, trigger_kind
from .detection import Detection, detect, resources_for, subject_key, subject_values
from .events import Event
from .job_history import JobCursor
from .observations import Snapshot
from .rules import WatchedSubscription
from .subscribe import UNSUBSCRIBE
from .thresholds import ThresholdState

__all__ = [
    "CATALOG", "UNSUBSCRIBE", "CallbackUrlError", "CheckedCallback", "Detection", "Event", "Snapshot",
    "ThresholdState", "TriggerKind", "JobCursor", "WatchedSubscription", "check_callback_url", "detect",
    "ensure_scalar_measure", "parse_allowed_hosts", "resources_for", "subject_key", "subject_values", "trigger_kind",
]
