"""The edge-triggered crossing rule and the stored threshold state."""
import json

import pytest

from ciconnector.trigger_kinds.thresholds import ThresholdState, ThresholdStateError, crossing


@pytest.mark.parametrize("previous, current, threshold, above, below, either", [
    (90, 101, 100, "above", None, "above"),
    (100, 101, 100, "above", None, "above"),     # previous equal: armed
    (90, 100, 100, None, None, None),            # reaching the threshold is not crossing above it
    (101, 150, 100, None, None, None),           # already above
    (110, 99, 100, None, "below", "below"),
    (100, 99, 100, None, "below", "below"),      # previous equal: armed for below
    (110, 100, 100, None, None, None),           # reaching the threshold is not crossing below it
    (100, 100, 100, None, None, None),
    (0, 0.5, 0, "above", None, "above"),
    (-1.5, -0.5, -1, "above", None, "above"),
])
def test_crossing_table(previous, current, threshold, above, below, either):
    assert crossing(previous, current, threshold, "above") == above
    assert crossing(previous, current, threshold, "below") == below
    assert crossing(previous, current, threshold, "either") == either


def test_first_observation_is_the_baseline():
    state, crossed = ThresholdState().observe(500, 100, "above")
    assert crossed is None and state == ThresholdState(last_value=500, crossings=0) and state.baseline_set
    assert not ThresholdState().baseline_set


def test_state_counts_crossings_and_rearms():
    state = ThresholdState(last_value=90)
    fired = []
    for value in (101, 120, 100, 130):
        state, crossed = state.observe(value, 100, "above")
        fired.append(crossed)
    assert fired == ["above", None, None, "above"]
    assert state == ThresholdState(last_value=130, crossings=2)


@pytest.mark.parametrize("state", [ThresholdState(), ThresholdState(12, 3), ThresholdState(12.75, 0)])
def test_state_round_trips_through_json(state):
    text = json.dumps(state.to_dict(), separators=(",", ":"))
    assert len(text) < 64
    assert ThresholdState.from_dict(json.loads(text)) == state


@pytest.mark.parametrize("text", ["null", "[]", '"text"', '{"last":1}', '{"last":"1","n":0}', '{"last":true,"n":0}',
                                  '{"last":1,"n":-1}', '{"last":1,"n":1.5}'])
def test_unreadable_state_is_reported(text):
    with pytest.raises(ThresholdStateError):
        ThresholdState.from_dict(json.loads(text))
