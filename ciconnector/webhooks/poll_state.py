"""What one instance's watch row stores: the watch state and every threshold subscription's state,
as one JSON document ``{"watch": {...}, "thresholds": {id: {...}}}`` encoded once."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from ..trigger_kinds.thresholds import ThresholdState
from ..trigger_kinds.watermark import WatchState

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PollState:
    """The instance's :class:`WatchState` and threshold states by subscription id."""

    watch: WatchState = field(default_factory=WatchState)
    thresholds: dict[str, ThresholdState] = field(default_factory=dict)

    def to_text(self) -> str:
        """Compact JSON text for the watch row."""
        return json.dumps({"watch": self.watch.to_dict(),
                           "thresholds": {k: v.to_dict() for k, v in sorted(self.thresholds.items())}},
                          separators=(",", ":"))

    @classmethod
    def from_text(cls, text: str, instance_id: str) -> "PollState":
        """Parse stored text; unreadable state starts afresh (which only re-seeds, never emits)."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            watch = WatchState.from_dict(data.get("watch") or {})
            thresholds = {k: ThresholdState.from_dict(v) for k, v in (data.get("thresholds") or {}).items()}
        except (ValueError, AttributeError, TypeError):  # includes WatchStateError, ThresholdStateError
            logger.warning("watch state of instance %s is unreadable; starting afresh", instance_id)
            return cls()
        return cls(watch, thresholds)
