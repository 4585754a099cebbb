"""``CISimulator``: the HTTPS server on 127.0.0.1 with its CA, credentials and control client."""
from __future__ import annotations

import json
import secrets
import shutil
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any, Iterable

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from . import tls
from .assertion import load_or_create_client_certificate
from .auth import DEFAULT_SCOPE, Authority, Credentials, TokenStore
from .client import SimulatorControl
from .faults import FaultInjector
from .managed_identity import PATH as IDENTITY_PATH
from .managed_identity import USER_ASSIGNED_ID, ManagedIdentityEndpoint
from .requestlog import RequestLog
from .server import API_PREFIX, SimulatorApp
from .state import Store
from .web import Services

HOST = "127.0.0.1"
DEFAULT_TENANT_ID = "8f3b1c5e-2d7a-4e9f-a1b3-5c6d7e8f9a0b"
DEFAULT_CLIENT_ID = "0c9d8e7f-6a5b-4c3d-9e2f-1a0b9c8d7e6f"
CREDENTIALS_FILE = "credentials.json"


class _Handler(WSGIRequestHandler):
    """Sets TCP_NODELAY: with Nagle, TLS 1.3 session tickets delay every response by ~10 ms."""

    disable_nagle_algorithm = True


class _QuietHandler(_Handler):
    """A handler that does not log every request to stderr."""

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 - werkzeug's signature
        pass


def _load_or_create_credentials(directory: Path) -> Credentials:
    """Credentials stored in ``directory`` (stable across restarts), created on first use."""
    path = directory / CREDENTIALS_FILE
    if path.exists():
        return Credentials(**json.loads(path.read_text("utf-8")))
    credentials = Credentials(tenant_id=DEFAULT_TENANT_ID, client_id=DEFAULT_CLIENT_ID,
                              client_secret=secrets.token_urlsafe(24), subscription_key=secrets.token_hex(16))
    path.write_text(json.dumps(credentials.__dict__, indent=2), "utf-8")
    path.chmod(0o600)
    return credentials


class CISimulator:
    """A Customer Insights API v1 simulator (dev only) serving HTTPS on 127.0.0.1.

    ``state_dir`` keeps the CA (``ca.pem``/``ca-key.pem``) and ``credentials.json`` so both stay
    stable across restarts; without it a temporary directory is used and removed on ``stop()``.
    The CI data itself is in memory and starts as the sample instance.
    """

    def __init__(self, port: int = 0, state_dir: str | Path | None = None, *,
                 scopes: Iterable[str] = (DEFAULT_SCOPE,), verbose: bool = False) -> None:
        self._requested_port = port
        self._own_dir = state_dir is None
        self.state_dir = Path(tempfile.mkdtemp(prefix="cisim-") if state_dir is None else state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._ca = tls.load_or_create_ca(self.state_dir)
        self.ca_path = str(self.state_dir / tls.CA_FILE)
        credentials = _load_or_create_credentials(self.state_dir)
        self.tenant_id = credentials.tenant_id
        self.client_id = credentials.client_id
        self.client_secret = credentials.client_secret
        self.subscription_key = credentials.subscription_key
        self.scopes = tuple(scopes)
        authority = Authority(credentials, self.scopes, TokenStore())
        self.client_certificate_path = str(load_or_create_client_certificate(self.state_dir))
        """PEM file (key + self-signed certificate) registered on the simulated app registration."""
        self.client_certificate_thumbprint = authority.certificates.register(
            Path(self.client_certificate_path).read_bytes())
        self.services = Services(store=Store(), authority=authority, faults=FaultInjector(), log=RequestLog(),
                                 identity=ManagedIdentityEndpoint(authority))
        self.services.reset()
        self._verbose = verbose
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._control: SimulatorControl | None = None

    def start(self) -> CISimulator:
        """Bind and serve in a background thread."""
        if self._server is not None:
            return self
        self._server = make_server(HOST, self._requested_port, SimulatorApp(self.services), threaded=True,
                                   ssl_context=tls.server_context(self._ca),
                                   request_handler=_Handler if self._verbose else _QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="cisim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; removes the temporary state directory if one was created."""
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._own_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> CISimulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (after ``start()``)."""
        if self._server is None:
            raise RuntimeError("The simulator is not started.")
        return self._server.server_port

    @property
    def origin(self) -> str:
        """``https://127.0.0.1:<port>``."""
        return f"https://{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        """The CI API root, ``https://127.0.0.1:<port>/v1``."""
        return self.origin + API_PREFIX

    @property
    def authority(self) -> str:
        """The MSAL authority, ``https://127.0.0.1:<port>/<tenant_id>``."""
        return f"{self.origin}/{self.tenant_id}"

    @property
    def control(self) -> SimulatorControl:
        """A ``SimulatorControl`` bound to this simulator."""
        if self._control is None:
            self._control = SimulatorControl(self.origin, self.ca_path)
        return self._control

    @property
    def identity_endpoint(self) -> str:
        """The managed identity endpoint, ``https://127.0.0.1:<port>/msi/token`` (``IDENTITY_ENDPOINT``)."""
        return self.origin + IDENTITY_PATH

    @property
    def identity_header(self) -> str:
        """The secret callers must send as ``X-IDENTITY-HEADER`` (``IDENTITY_HEADER``), new per simulator."""
        assert self.services.identity is not None
        return self.services.identity.identity_header

    user_assigned_client_id = USER_ASSIGNED_ID
    """Client id of the simulated user-assigned identity (any other client id is refused)."""

    def managed_identity_env(self) -> dict[str, str]:
        """The environment under which MSAL's managed identity client gets its tokens here.

        ``IDENTITY_CA_BUNDLE`` is the app's dev-only setting for trusting this HTTPS endpoint (the
        real one is plain HTTP on localhost).
        """
        return {"IDENTITY_ENDPOINT": self.identity_endpoint, "IDENTITY_HEADER": self.identity_header,
                "IDENTITY_CA_BUNDLE": self.ca_path}

    def issue_server_cert(self, directory: str | Path) -> tuple[str, str]:
        """A certificate for 127.0.0.1/localhost from this simulator's CA, as (cert, key) PEM paths.

        Lets another local server (Azurite over HTTPS) be trusted through the same ``ca.pem``.
        """
        return tls.write_server_cert(self._ca, Path(directory))

    def settings_env(self, *, credential: str = "secret") -> dict[str, str]:
        """The app settings that point the app at this simulator.

        ``credential`` picks the CI credential mode: ``secret`` (the plain settings, as before),
        ``certificate`` (the registered client certificate, no secret) or ``managedidentity``
        (no client id or secret; MSAL also needs ``IDENTITY_ENDPOINT``/``IDENTITY_HEADER`` in
        ``os.environ``, which the returned mapping includes).
        """
        env = self._secret_settings_env()
        if credential == "certificate":
            del env["CI_CLIENT_SECRET"]
            env.update(CI_CREDENTIAL="certificate", CI_CLIENT_CERTIFICATE_PATH=self.client_certificate_path)
        elif credential == "managedidentity":
            for name in ("CI_CLIENT_SECRET", "CI_CLIENT_ID", "CI_AUTHORITY", "CI_TENANT_ID"):
                del env[name]
            env.update(CI_CREDENTIAL="managedidentity", **self.managed_identity_env())
        elif credential != "secret":
            raise ValueError(f"unknown credential mode {credential!r}")
        return env

    def _secret_settings_env(self) -> dict[str, str]:
        return {"CI_API_BASE_URL": self.base_url, "CI_AUTHORITY": self.authority, "CI_TENANT_ID": self.tenant_id,
                "CI_CLIENT_ID": self.client_id, "CI_CLIENT_SECRET": self.client_secret,
                "CI_SUBSCRIPTION_KEY": self.subscription_key, "CI_CA_BUNDLE": self.ca_path,
                "CI_SCOPE": self.scopes[0]}
