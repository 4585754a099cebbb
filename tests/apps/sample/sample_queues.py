"""Queue function of the sample app, driven by the JSON job in each message.

Job fields: ``id``; ``fail_times`` (fail while this job's attempt counter is at most this);
``sleep`` (seconds); ``outputs`` (messages to put on the output queue, default 1).
"""
import json
import time

import azure.functions as func
from sample_state import record, records

bp = func.Blueprint()


@bp.queue_trigger(arg_name="msg", queue_name="%SAMPLE_IN_QUEUE%", connection="AzureWebJobsStorage")
@bp.queue_output(arg_name="out", queue_name="%SAMPLE_OUT_QUEUE%", connection="AzureWebJobsStorage")
def work(msg: func.QueueMessage, out: func.Out[str]) -> None:
    """Records each attempt; fails while planned; then writes its outputs."""
    job = msg.get_json()
    started = time.time()
    attempt = 1 + sum(1 for r in records("attempts") if r["id"] == job["id"])
    record("attempts", id=job["id"], attempt=attempt, dequeue_count=msg.dequeue_count,
           message_id=msg.id, at=started)
    out.set([json.dumps({"id": job["id"], "part": part, "dequeue_count": msg.dequeue_count})
             for part in range(job.get("outputs", 1))])
    time.sleep(job.get("sleep", 0))
    record("runs", id=job["id"], start=started, end=time.time())
    if attempt <= job.get("fail_times", 0):
        raise RuntimeError(f"planned failure {attempt}")
