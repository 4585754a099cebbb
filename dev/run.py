"""``make run``: Azurite + CI simulator + callback receiver + local Functions host, until Ctrl-C.

Ports: Azurite 10000-10002, simulator 8443, receiver 8444, Functions host 7071. The simulator's
CA and the receiver's CA live under ``.dev/``. Timers run on their schedule (a poll every minute).

``STORAGE_MODE=identity`` (``make run STORAGE_MODE=identity``) runs storage as on Flex Consumption
with shared keys disabled: no ``AzureWebJobsStorage`` connection string, Azurite over HTTPS with
``--oauth basic`` (certificate from the simulator's CA), ``AzureWebJobsStorage__*ServiceUri`` and
``__credential=managedidentity``, and tokens from the simulator's managed identity endpoint
(``IDENTITY_ENDPOINT``/``IDENTITY_HEADER``) through MSAL. The default is ``connectionString``.

``AUTH_MODE=entra`` (``make run AUTH_MODE=entra``) makes callers sign in: the banner shows how to get
a token for the simulator's sample maker, viewer and admin and one call for each.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from pathlib import Path

from dev.azurite import Azurite
from dev.cisim import SAMPLE_INSTANCE_ID, CISimulator
from dev.funchost.process import start_host_process, stop_host_process
from dev.receiver import CallbackReceiver, Notification

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".dev"
HOST_PORT, SIMULATOR_PORT, RECEIVER_PORT = 7071, 8443, 8444
STORAGE_MODES = ("connectionString", "identity")


def _print_notification(note: Notification) -> None:
    body = note.body if isinstance(note.body, dict) else {}
    print(f"[receiver] {note.flow}: {body.get('trigger')} {body.get('subjectName') or body.get('jobId') or ''} "
          f"outcome={body.get('outcome') or body.get('crossing')} test={body.get('isTest')} -> {note.status}",
          flush=True)


def _storage(mode: str, simulator: CISimulator, stack: contextlib.ExitStack) -> tuple[Azurite, dict[str, str]]:
    """Azurite on the default ports and the storage settings of ``mode``."""
    if mode == "identity":
        cert, key = simulator.issue_server_cert(STATE / "azurite")
        azurite = stack.enter_context(Azurite(default_ports=True, cert=cert, key=key, oauth=True))
        return azurite, {**azurite.identity_settings(), **simulator.managed_identity_env(),
                         "STORAGE_CA_BUNDLE": simulator.ca_path}
    azurite = stack.enter_context(Azurite(default_ports=True))
    return azurite, {"AzureWebJobsStorage": azurite.connection_string}


def _entra_hint() -> str:
    return "(make run AUTH_MODE=entra: callers sign in as sample users instead of using the function key)\n"


def _entra_help(base: str, simulator: CISimulator) -> str:
    """How to act as each sample user in Entra mode (the function key is then not accepted)."""
    token_url = f"{simulator.origin}/_control/users"
    lines = ["Entra mode (AUTH_MODE=entra): calls need a user's access token; CI's role of the user decides.",
             "Get a token (valid 1 h) for a sample user: maker (Contributor), viewer (Viewer), admin (Admin and",
             "the Connector.Admin app role) or noaccess (no CI role), e.g.",
             f"  TOKEN=$(curl -s --cacert {simulator.ca_path} -X POST {token_url}/maker/token | "
             "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')"]
    examples = {
        "maker": f'-X POST -H "Content-Type: application/json" -d \'{{"CustomerId": "demo-1"}}\' '
                 f"{base}/api/instances/{SAMPLE_INSTANCE_ID}/data/Customer        (201)",
        "viewer": f'-X POST -H "Content-Type: application/json" -d \'{{"CustomerId": "demo-2"}}\' '
                  f"{base}/api/instances/{SAMPLE_INSTANCE_ID}/data/Customer       (403: Viewers read only)",
        "admin": f"{base}/api/instances/{SAMPLE_INSTANCE_ID}/subscriptions        (200: admin endpoint)",
    }
    for user, call in examples.items():
        lines.append(f"  # as {user} (token from {token_url}/{user}/token):")
        lines.append(f'  curl -s -H "Authorization: Bearer $TOKEN" {call}')
    return "\n".join(lines) + "\n"


def main() -> int:
    mode = os.environ.get("STORAGE_MODE", "").strip() or "connectionString"
    if mode not in STORAGE_MODES:
        print(f"STORAGE_MODE must be one of {', '.join(STORAGE_MODES)}, got {mode!r}", file=sys.stderr)
        return 2
    auth_mode = os.environ.get("AUTH_MODE", "").strip() or "functionKey"
    if auth_mode not in ("functionKey", "entra"):
        print(f"AUTH_MODE must be functionKey or entra, got {auth_mode!r}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with contextlib.ExitStack() as stack, \
            CISimulator(port=SIMULATOR_PORT, state_dir=STATE / "cisim") as simulator, \
            CallbackReceiver(STATE / "receiver", port=RECEIVER_PORT, on_notification=_print_notification) as receiver:
        azurite, storage_env = _storage(mode, simulator, stack)
        env = {**storage_env, **simulator.settings_env(), "AUTH_MODE": auth_mode,
               "CALLBACK_ALLOWED_HOSTS": receiver.host, "CALLBACK_CA_BUNDLE": receiver.ca_path}
        host, ready = start_host_process(ROOT, env, port=HOST_PORT)
        base, key = ready["base_url"], ready["function_key"]
        instance = SAMPLE_INSTANCE_ID
        refresh_url = f"{simulator.origin}/_control/instances/{instance}/datasources/Loyalty/refresh"
        print(f"""
Customer Insights connector backend is running.
  Functions host     {base}/api      function key: {key}
  master key         {ready['master_key']}
  CI simulator       {simulator.base_url}   (control API: {simulator.origin}/_control)
  callback receiver  https://{receiver.host}   (notifications are printed here)
  Azurite            blob/queue/table on {azurite.scheme}://127.0.0.1:10000-10002 (storage mode: {mode})
  sample instance    {instance}

Try:
  curl -s {base}/api/health
  curl -s -H "x-functions-key: {key}" {base}/api/instances/{instance}/segments
  curl -s -X POST -H "x-functions-key: {key}" -H "Content-Type: application/json" \\
       -d '{{"callbackUrl": "{receiver.callback_url('demo')}"}}' \\
       {base}/api/instances/{instance}/triggers/dataSourceRefreshFailed/subscriptions
  curl -s --cacert {simulator.ca_path} -X POST {refresh_url} \\
       -H "Content-Type: application/json" -d '{{"outcome": "fail"}}'
  (the next poll, within a minute, posts the failure to the receiver)

{_entra_help(base, simulator) if auth_mode == "entra" else _entra_hint()}
Ctrl-C stops everything.""", flush=True)
        while not stop.wait(0.5):
            if host.poll() is not None:
                print(f"the local Functions host exited with {host.returncode}", file=sys.stderr)
                return 1
        stop_host_process(host)
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
