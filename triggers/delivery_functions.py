"""Delivery queue function: POSTs one notification to a flow's callback URL, or fans a poll's
events out into one delivery message per (event, subscription)."""
import logging

import azure.functions as func

from ciconnector import services
from ciconnector.delivery.message import FanoutMessage, MalformedMessageError, parse_message
from ciconnector.storage.queues import DELIVERY_QUEUE

bp = func.Blueprint()
logger = logging.getLogger(__name__)


@bp.function_name("DeliverNotification")
@bp.queue_trigger(arg_name="message", queue_name=DELIVERY_QUEUE, connection="AzureWebJobsStorage")
def deliver_notification(message: func.QueueMessage) -> None:
    try:
        parsed = parse_message(message.get_body())
    except MalformedMessageError as exc:
        logger.error("dropping delivery message %s: %s", message.id, exc)
        return
    deliverer = services.app().deliverer
    if isinstance(parsed, FanoutMessage):
        count = deliverer.fan_out(parsed)
        logger.info("fanned out %d deliveries of %d events of instance %s", count, len(parsed.events),
                    parsed.instance_id)
        return
    if not message.id:  # the claim tells a redelivery of this message from a copy by its id
        logger.error("dropping delivery message of event %s: it has no message id", parsed.event_id)
        return
    outcome = deliverer.deliver(parsed, message_id=message.id)
    logger.info("delivery of event %s to subscription %s: %s", parsed.event_id, parsed.subscription_id,
                outcome.status)
