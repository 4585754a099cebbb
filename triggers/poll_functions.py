"""Poll timer (one poll message per watched instance) and the poll queue function."""
import json
import logging
import typing  # the worker rejects func.Out[list[str]]: typing.List is what it accepts

import azure.functions as func

from ciconnector import services
from ciconnector.storage.queues import POLL_QUEUE

bp = func.Blueprint()
logger = logging.getLogger(__name__)


@bp.function_name("SchedulePolls")
@bp.timer_trigger(arg_name="timer", schedule="%POLL_SCHEDULE%")
@bp.queue_output(arg_name="polls", queue_name=POLL_QUEUE, connection="AzureWebJobsStorage")
def schedule_polls(timer: func.TimerRequest, polls: func.Out[typing.List[str]]) -> None:
    messages = services.app().poller.plan()
    if messages:
        polls.set(messages)
    logger.info("scheduled %d instance polls%s", len(messages), " (past due)" if timer.past_due else "")


@bp.function_name("PollInstance")
@bp.queue_trigger(arg_name="message", queue_name=POLL_QUEUE, connection="AzureWebJobsStorage")
def poll_instance(message: func.QueueMessage) -> None:
    try:
        instance_id = json.loads(message.get_body())["instanceId"]
    except (ValueError, KeyError, TypeError):
        logger.error("dropping malformed poll message %s", message.id)
        return
    report = services.app().poller.poll(instance_id)
    logger.info("poll of %s: skipped=%s fetched=%s failed=%s deliveries=%d committed=%s", report.instance_id,
                report.skipped, ",".join(report.fetched), ",".join(report.failed), report.deliveries, report.committed)
