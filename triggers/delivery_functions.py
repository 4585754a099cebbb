"""Delivery queue function: POSTs one notification to a flow's callback URL."""
import logging

import azure.functions as func

from ciconnector import services
from ciconnector.delivery.message import DeliveryMessage, MalformedMessageError
from ciconnector.storage.queues import DELIVERY_QUEUE

bp = func.Blueprint()
logger = logging.getLogger(__name__)


@bp.function_name("DeliverNotification")
@bp.queue_trigger(arg_name="message", queue_name=DELIVERY_QUEUE, connection="AzureWebJobsStorage")
def deliver_notification(message: func.QueueMessage) -> None:
    try:
        delivery = DeliveryMessage.parse(message.get_body())
    except MalformedMessageError as exc:
        logger.error("dropping delivery message %s: %s", message.id, exc)
        return
    outcome = services.app().deliverer.deliver(delivery)
    logger.info("delivery of event %s to subscription %s: %s", delivery.event_id, delivery.subscription_id,
                outcome.status)
