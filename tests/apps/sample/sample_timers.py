"""Timer functions of the sample app; each records its invocations."""
import azure.functions as func
from sample_state import record

bp = func.Blueprint()


@bp.timer_trigger(arg_name="timer", schedule="%SAMPLE_SCHEDULE%")
def tick(timer: func.TimerRequest) -> None:
    """Schedule from a setting."""
    record("tick", past_due=timer.past_due)


@bp.timer_trigger(arg_name="timer", schedule="0 30 2 * * *")
def nightly(timer: func.TimerRequest) -> None:
    """Daily, so the schedule monitor is on: runs past due when a recorded occurrence was missed."""
    record("nightly", past_due=timer.past_due)


@bp.timer_trigger(arg_name="timer", schedule="0 0 0 1 1 *", run_on_startup=True)
def boot(timer: func.TimerRequest) -> None:
    """Yearly with run_on_startup."""
    record("boot", past_due=timer.past_due)
