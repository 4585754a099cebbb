"""A local HTTPS callback receiver standing in for Power Automate (dev and tests only).

It records every POST and answers with scripted status codes, so tests and benchmarks can see
notifications arrive and simulate flows that are down, throttled, gone or deleted.

    with CallbackReceiver() as receiver:
        url = receiver.callback_url("flow-1")       # https://127.0.0.1:<port>/workflows/flow-1/...&sig=...
        receiver.script("flow-1", [503, 503])        # then the default 202
        receiver.wait_for("flow-1", count=1)
"""
from __future__ import annotations

import json
import secrets
import ssl
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

import trustme


@dataclass(frozen=True)
class Notification:
    """One POST the receiver got."""

    flow: str
    headers: dict[str, str]
    body: Any
    status: int
    received_at: float


class CallbackReceiver:
    """HTTPS server on 127.0.0.1 with its own CA (``ca_path``)."""

    def __init__(self, state_dir: str | Path, port: int = 0,
                 on_notification: Callable[[Notification], None] | None = None):
        self._state_dir = Path(state_dir)
        self._state_dir.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_path = str(self._state_dir / "receiver-ca.pem")
        ca.cert_pem.write_to_path(self.ca_path)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        self._lock = threading.Condition()
        self._received: dict[str, list[Notification]] = defaultdict(list)
        self._scripts: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self.default_status = 202
        self._on_notification = on_notification
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:  # noqa: N802 (http.server naming)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                flow = self.path.split("?", 1)[0].strip("/").split("/")[1] if self.path.count("/") > 1 else ""
                status, delay = receiver._record(flow, dict(self.headers), raw)
                if delay:
                    time.sleep(delay)  # a slow flow: the POST was read, the answer comes late
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``, the entry for ``CALLBACK_ALLOWED_HOSTS``."""
        return f"127.0.0.1:{self.port}"

    def callback_url(self, flow: str) -> str:
        """A callback URL shaped like Power Automate's, with a random ``sig``."""
        return (f"https://127.0.0.1:{self.port}/workflows/{flow}/triggers/manual/paths/invoke"
                f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={secrets.token_urlsafe(24)}")

    def script(self, flow: str, statuses: list[int], *, delay_seconds: float = 0) -> None:
        """Answer the next POSTs for ``flow`` with ``statuses``, each after ``delay_seconds``, then
        ``default_status`` at once. The POST is recorded when it arrives, before the delay."""
        with self._lock:
            self._scripts[flow].extend((status, delay_seconds) for status in statuses)

    def _record(self, flow: str, headers: dict[str, str], raw: bytes) -> tuple[int, float]:
        with self._lock:
            script = self._scripts[flow]
            status, delay = script.pop(0) if script else (self.default_status, 0.0)
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
            note = Notification(flow, headers, body, status, time.monotonic())
            self._received[flow].append(note)
            self._lock.notify_all()
        if self._on_notification is not None:
            self._on_notification(note)
        return status, delay

    def received(self, flow: str) -> list[Notification]:
        """Every POST for ``flow`` so far (accepted or not)."""
        with self._lock:
            return list(self._received[flow])

    def accepted(self, flow: str) -> list[Notification]:
        """POSTs for ``flow`` answered with 2xx."""
        return [n for n in self.received(flow) if 200 <= n.status < 300]

    def wait_for(self, flow: str, count: int = 1, timeout: float = 30.0, *,
                 accepted: bool = True) -> list[Notification]:
        """Block until ``flow`` has ``count`` (accepted) POSTs; raises ``TimeoutError``."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                items = [n for n in self._received[flow] if not accepted or 200 <= n.status < 300]
                if len(items) >= count:
                    return items
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{flow}: {len(items)} of {count} notifications after {timeout} s")
                self._lock.wait(remaining)

    def start(self) -> "CallbackReceiver":
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "CallbackReceiver":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
