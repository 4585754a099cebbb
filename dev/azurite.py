"""Run Azurite (the Azure Storage emulator) as a child process, for local runs and tests.

    with Azurite() as azurite:
        print(azurite.connection_string)

``python -m dev.azurite [--default-ports]`` runs it in the foreground until Ctrl-C (for ``make run``).

With ``cert``/``key`` Azurite serves HTTPS, and ``oauth=True`` adds ``--oauth basic``: it then also
accepts bearer tokens (audience ``https://storage.azure.com`` or the account's service URL, an
Entra-shaped issuer, not expired; the signature is not checked), which is how identity-based
storage connections are tested locally. Shared key access keeps working.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DEFAULT_PORTS = {"blob": 10000, "queue": 10001, "table": 10002}
REPO_ROOT = Path(__file__).resolve().parent.parent

_LISTENING = re.compile(
    r"Azurite (Blob|Queue|Table) service is successfully listening at https?://[^:/\s]+:(\d+)")


class AzuriteError(RuntimeError):
    """Azurite could not be started."""


def connection_string(host: str = "127.0.0.1", ports: dict[str, int] | None = None, *,
                      scheme: str = "http") -> str:
    """The explicit devstoreaccount1 connection string for the given blob/queue/table ports."""
    ports = ports or DEFAULT_PORTS
    return (
        f"DefaultEndpointsProtocol={scheme};AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint={scheme}://{host}:{ports['blob']}/{ACCOUNT_NAME};"
        f"QueueEndpoint={scheme}://{host}:{ports['queue']}/{ACCOUNT_NAME};"
        f"TableEndpoint={scheme}://{host}:{ports['table']}/{ACCOUNT_NAME};"
    )


class Azurite:
    """An Azurite child process (blob, queue, table) in memory, in its own process group.

    With ``default_ports=False`` (the default) Azurite picks free ports itself (port 0) and the
    ports it reports are read from its output, so there is no race between picking and binding.
    """

    def __init__(self, root: str | os.PathLike[str] = REPO_ROOT, host: str = "127.0.0.1",
                 default_ports: bool = False, startup_timeout: float = 30.0, *,
                 cert: str | os.PathLike[str] | None = None, key: str | os.PathLike[str] | None = None,
                 oauth: bool = False) -> None:
        if bool(cert) != bool(key):
            raise AzuriteError("HTTPS needs both cert and key")
        if oauth and not cert:
            raise AzuriteError("--oauth basic needs HTTPS (cert and key)")
        self.root = Path(root)
        self.host = host
        self.default_ports = default_ports
        self.startup_timeout = startup_timeout
        self.cert, self.key, self.oauth = cert, key, oauth
        self.ports: dict[str, int] = {}
        self._proc: subprocess.Popen[str] | None = None
        self._workdir: str | None = None
        self._output: list[str] = []

    @property
    def executable(self) -> Path:
        """The Azurite launcher installed by ``npm ci``."""
        return self.root / "node_modules" / ".bin" / "azurite"

    @property
    def scheme(self) -> str:
        """``https`` with a certificate, else ``http``."""
        return "https" if self.cert else "http"

    @property
    def connection_string(self) -> str:
        """Explicit connection string for the running instance."""
        if not self.ports:
            raise AzuriteError("Azurite is not running")
        return connection_string(self.host, self.ports, scheme=self.scheme)

    def service_uri(self, service: str) -> str:
        """``<scheme>://<host>:<port>/devstoreaccount1`` for ``blob``, ``queue`` or ``table``."""
        if not self.ports:
            raise AzuriteError("Azurite is not running")
        return f"{self.scheme}://{self.host}:{self.ports[service]}/{ACCOUNT_NAME}"

    def identity_settings(self, name: str = "AzureWebJobsStorage") -> dict[str, str]:
        """App settings of an identity-based connection ``name`` to this instance (HTTPS + oauth only).

        ``name`` itself is set blank: a blank value counts as unset, and it keeps the connection
        string of a ``local.settings.json`` from taking precedence (environment values win there).
        """
        if not self.oauth:
            raise AzuriteError("identity-based connections need Azurite with oauth=True")
        return {name: "", f"{name}__credential": "managedidentity",
                **{f"{name}__{service}ServiceUri": self.service_uri(service) for service in ("blob", "queue", "table")}}

    @property
    def is_running(self) -> bool:
        """Whether the Azurite process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        """The Azurite command line."""
        ports = DEFAULT_PORTS if self.default_ports else {name: 0 for name in DEFAULT_PORTS}
        return [
            str(self.executable), "--silent", "--inMemoryPersistence", "--disableTelemetry",
            "--skipApiVersionCheck",
            "--blobHost", self.host, "--queueHost", self.host, "--tableHost", self.host,
            "--blobPort", str(ports["blob"]), "--queuePort", str(ports["queue"]),
            "--tablePort", str(ports["table"]),
            *(["--cert", str(self.cert), "--key", str(self.key)] if self.cert else []),
            *(["--oauth", "basic"] if self.oauth else []),
        ]

    def start(self) -> "Azurite":
        """Start Azurite and wait until all three services accept connections."""
        if self._proc is not None:
            return self
        if not self.executable.exists():
            raise AzuriteError(f"{self.executable} not found: run `npm ci` in {self.root}")
        self._workdir = tempfile.mkdtemp(prefix="azurite-")
        self._proc = subprocess.Popen(
            self.command(), cwd=self._workdir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            self.ports = self._wait_for_ports()
            self._wait_until_accepting()
        except BaseException:
            self.stop()
            raise
        threading.Thread(target=self._drain, args=(self._proc.stdout,), daemon=True).start()
        return self

    def _wait_for_ports(self) -> dict[str, int]:
        assert self._proc is not None and self._proc.stdout is not None
        deadline = time.monotonic() + self.startup_timeout
        ports: dict[str, int] = {}
        timer = threading.Timer(self.startup_timeout, self._kill_group)
        timer.start()
        try:
            for line in self._proc.stdout:
                self._output.append(line.rstrip())
                match = _LISTENING.search(line)
                if match:
                    ports[match.group(1).lower()] = int(match.group(2))
                if len(ports) == 3:
                    return ports
        finally:
            timer.cancel()
        detail = "\n".join(self._output[-20:])
        if time.monotonic() >= deadline:
            raise AzuriteError(f"Azurite did not start within {self.startup_timeout} s:\n{detail}")
        raise AzuriteError(f"Azurite exited during startup:\n{detail}")

    def _wait_until_accepting(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        for port in self.ports.values():
            while True:
                try:
                    with socket.create_connection((self.host, port), timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise AzuriteError(f"Azurite port {port} does not accept connections") from None
                    time.sleep(0.05)

    @staticmethod
    def _drain(stream: IO[str] | None) -> None:
        if stream is not None:
            for _ in stream:
                pass

    def _kill_group(self, sig: int = signal.SIGKILL) -> None:
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, sig)

    def stop(self) -> None:
        """Stop Azurite (SIGTERM to its process group, SIGKILL after 5 s)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    proc.wait(timeout=5)
                except ProcessLookupError:
                    pass
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        self.ports = {}
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> "Azurite":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """Run Azurite in the foreground until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m dev.azurite", description=__doc__.splitlines()[0])
    parser.add_argument("--default-ports", action="store_true",
                        help="listen on 10000-10002 (UseDevelopmentStorage=true) instead of free ports")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with Azurite(default_ports=args.default_ports) as azurite:
        print(f"Azurite ready; AzureWebJobsStorage={azurite.connection_string}", flush=True)
        while not stop.wait(0.5):
            if not azurite.is_running:
                print("Azurite exited", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
