"""Edge-triggered threshold crossings and the per-subscription state they need.

Rules (value ``v``, threshold ``t``):

* The baseline is the value observed at subscribe (kept on the subscription record); only when it
  was unknown then does the first observation after subscribing set it, without firing.
* ``above`` fires when ``previous <= t < current``. It re-arms by itself: firing again needs a
  previous value ``<= t``, i.e. the value must first come back to or under the threshold.
* ``below`` mirrors it: fires when ``previous >= t > current``.
* ``either`` fires on both crossings.
* A missing observation (CI error, subject deleted or not evaluated) changes nothing: no event,
  the last value stays the comparison point for the next observation.

The state is therefore just the last observed value (``None`` = no baseline yet) and a count of
crossings, which numbers the events so their ids are deterministic.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from .events import Number

Direction = Literal["above", "below", "either"]
DIRECTIONS: tuple[Direction, ...] = ("above", "below", "either")
DEFAULT_DIRECTION: Direction = "above"
Crossing = Literal["above", "below"]


def crossing(previous: Number, current: Number, threshold: Number, direction: Direction) -> Crossing | None:
    """The crossing ``previous → current`` makes over ``threshold`` that ``direction`` fires on, if any."""
    if direction != "below" and previous <= threshold < current:
        return "above"
    if direction != "above" and previous >= threshold > current:
        return "below"
    return None


class ThresholdStateError(ValueError):
    """A stored threshold state cannot be read."""


@dataclass(frozen=True)
class ThresholdState:
    """What one threshold subscription remembers between polls.

    Attributes:
        last_value: the last observed value; ``None`` until the baseline is set.
        crossings: how many times the subscription fired.
    """

    last_value: Number | None = None
    crossings: int = 0

    @property
    def baseline_set(self) -> bool:
        return self.last_value is not None

    def observe(self, value: Number, threshold: Number,
                direction: Direction) -> tuple["ThresholdState", Crossing | None]:
        """The next state after observing ``value``, and the crossing that fires, if any.

        A missing observation is not observed at all: the caller keeps the state unchanged.
        """
        if self.last_value is None:
            return replace(self, last_value=value), None
        crossed = crossing(self.last_value, value, threshold, direction)
        return ThresholdState(last_value=value, crossings=self.crossings + (crossed is not None)), crossed

    def to_dict(self) -> dict[str, Any]:
        """The state as a JSON object, for storage (the container encodes it, with more)."""
        return {"v": 1, "last": self.last_value, "n": self.crossings}

    @classmethod
    def from_dict(cls, data: Any) -> "ThresholdState":
        """Read :meth:`to_dict` output; raises :class:`ThresholdStateError` when unreadable."""
        try:
            last, count = data["last"], data["n"]
        except (ValueError, TypeError, KeyError) as exc:
            raise ThresholdStateError(f"unreadable threshold state: {exc}") from None
        if (last is not None and (isinstance(last, bool) or not isinstance(last, (int, float)))) \
                or isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ThresholdStateError("unreadable threshold state: bad field types")
        return cls(last_value=last, crossings=count)
