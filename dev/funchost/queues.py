"""Queue triggers: poll with backoff, run batches concurrently, delete, release or poison messages."""
from __future__ import annotations

import logging
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.storage.queue import QueueMessage as StoredMessage

from .bindings import TriggerInput, queue_input
from .errors import HostError
from .functions import FunctionSpec
from .hostconfig import QueueOptions
from .invocation import InvocationResult
from .settings import resolve
from .storage import QueueStore, check_queue_name, connection_string

log = logging.getLogger("funchost.queues")
INITIAL_VISIBILITY = 600  # seconds a received message stays invisible while its function runs
RENEW_EVERY = INITIAL_VISIBILITY / 2
MIN_POLLING_INTERVAL = 0.1
POISON_SUFFIX = "-poison"

QueueRunner = Callable[[FunctionSpec, TriggerInput, str], InvocationResult]


class _Lease:
    """Keeps one message invisible while it is processed; tracks its latest pop receipt."""

    def __init__(self, listener: "QueueListener", message: StoredMessage) -> None:
        self.listener = listener
        self.message_id = message.id
        self.pop_receipt = message.pop_receipt
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._schedule()

    def _schedule(self) -> None:
        self._timer = threading.Timer(RENEW_EVERY, self._renew)
        self._timer.daemon = True
        self._timer.start()

    def _renew(self) -> None:
        with self._lock:
            if self._timer is None:
                return
            try:
                updated = self.listener.client.update_message(
                    self.message_id, self.pop_receipt, visibility_timeout=INITIAL_VISIBILITY)
                self.pop_receipt = updated.pop_receipt
            except Exception:
                log.warning("Could not renew the visibility of a message on '%s'", self.listener.queue)
            self._schedule()

    def release(self) -> str | None:
        """Stop renewing; the current pop receipt."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            return self.pop_receipt


class QueueListener:
    """Polls one queue for one function."""

    def __init__(self, spec: FunctionSpec, store: QueueStore, options: QueueOptions,
                 run: QueueRunner) -> None:
        what = f"function '{spec.name}' queue trigger"
        self.spec = spec
        self.store = store
        self.options = options
        self.run = run
        self.queue = check_queue_name(resolve(str(spec.trigger.data.get("queueName", "")), what), what)
        self.connection = connection_string(spec.trigger.data.get("connection"))
        poison = self.queue + POISON_SUFFIX
        self.poison_queue = None if self.queue.endswith(POISON_SUFFIX) or len(poison) > 63 else poison
        try:
            self.client = store.client(self.connection, self.queue)
        except AzureError as exc:
            raise HostError(f"{what}: cannot reach queue '{self.queue}': {exc}") from exc
        # a new batch is fetched once no more than newBatchThreshold messages are in flight
        self._executor = ThreadPoolExecutor(max_workers=options.batch_size + options.new_batch_threshold,
                                            thread_name_prefix=f"funchost-q-{spec.name}")
        self._inflight = 0
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._wakeup = store.wakeup(self.connection, self.queue)
        self._thread = threading.Thread(target=self._poll, name=f"funchost-poll-{spec.name}", daemon=True)

    def start(self) -> None:
        """Start polling."""
        self._thread.start()

    def _poll(self) -> None:
        delay = MIN_POLLING_INTERVAL
        while not self._stop.is_set():
            with self._changed:
                self._changed.wait_for(
                    lambda: self._inflight <= self.options.new_batch_threshold or self._stop.is_set())
            if self._stop.is_set():
                break
            self._wakeup.clear()
            messages = self._receive()
            if messages:
                delay = MIN_POLLING_INTERVAL
                with self._changed:
                    self._inflight += len(messages)
                for message in messages:
                    self._executor.submit(self._process, message)
                continue
            self._wakeup.wait(delay * random.uniform(0.8, 1.2))
            delay = min(self.options.max_polling_interval, delay * 2)

    def _receive(self) -> list[StoredMessage]:
        count = self.options.batch_size
        try:
            return list(self.client.receive_messages(messages_per_page=count, max_messages=count,
                                                     visibility_timeout=INITIAL_VISIBILITY))
        except ResourceNotFoundError:  # the queue was deleted: nothing to do until it exists again
            return []
        except Exception as exc:
            log.warning("Polling queue '%s' failed: %s", self.queue, exc)
            return []

    def _process(self, message: StoredMessage) -> None:
        lease = _Lease(self, message)
        try:
            try:
                body = self.store.decode(message.content)
            except ValueError:
                log.warning("Message %s on '%s' cannot be decoded as %s", message.id, self.queue,
                            self.store.encoding)
                self._to_poison(message, lease.release())
                return
            trigger = queue_input(id=message.id, body=body, dequeue_count=message.dequeue_count or 1,
                                  insertion_time=message.inserted_on, expiration_time=message.expires_on,
                                  next_visible_time=message.next_visible_on, pop_receipt=message.pop_receipt)
            result = self.run(self.spec, trigger, f"New queue message detected on '{self.queue}'.")
            pop_receipt = lease.release()
            if result.succeeded:
                self.client.delete_message(message.id, pop_receipt)
            elif self.poison_queue and (message.dequeue_count or 0) >= self.options.max_dequeue_count:
                log.warning("Message has reached MaxDequeueCount of %d. Moving message to queue '%s'.",
                            self.options.max_dequeue_count, self.poison_queue)
                self._to_poison(message, pop_receipt)
            else:
                self.client.update_message(message.id, pop_receipt,
                                           visibility_timeout=int(self.options.visibility_timeout))
        except Exception:
            log.exception("Completing message %s on '%s' failed", message.id, self.queue)
        finally:
            lease.release()
            with self._changed:
                self._inflight -= 1
                self._changed.notify_all()

    def _to_poison(self, message: StoredMessage, pop_receipt: str | None) -> None:
        if self.poison_queue is None:
            self.client.update_message(message.id, pop_receipt,
                                       visibility_timeout=int(self.options.visibility_timeout))
            return
        self.store.send_raw(self.connection, self.poison_queue, message.content)
        self.client.delete_message(message.id, pop_receipt)

    def stop(self, timeout: float) -> None:
        """Stop polling and let running invocations finish (and their messages complete)."""
        self._stop.set()
        self._wakeup.set()
        with self._changed:
            self._changed.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        with self._changed:
            if not self._changed.wait_for(lambda: self._inflight == 0, timeout):
                log.warning("Queue '%s': invocations still running after %.0f s", self.queue, timeout)
        self._executor.shutdown(wait=False)
