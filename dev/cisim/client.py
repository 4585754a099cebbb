"""HTTP clients for the simulator: ``SimulatorControl`` (control API) and ``ApiClient`` (CI API).

Both use a ``requests.Session`` with ``verify=<CA file>`` and ``trust_env=False`` so that
``REQUESTS_CA_BUNDLE`` cannot override the simulator's CA (see azure-platform.md §13).
"""
from __future__ import annotations

from typing import Any, Mapping

import requests

from .sample import SAMPLE_INSTANCE_ID


class SimulatorControlError(RuntimeError):
    """The control API refused a request."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


def _session(ca_path: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = ca_path
    return session


class SimulatorControl:
    """Client of ``/_control``; usable from any process that knows the origin and CA file.

    Methods that act on an instance take ``instance_id`` (default: the sample instance).
    Data sources may be named by id or name. Job-returning methods return ``GraphJobInfo`` dicts.
    """

    def __init__(self, base: str, ca_path: str, timeout: float = 30.0) -> None:
        self.base = base.rstrip("/") + "/_control"
        self.timeout = timeout
        self._session = _session(ca_path)

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        payload = {k: v for k, v in (body or {}).items() if v is not None}
        response = self._session.request(method, self.base + path, json=payload if body is not None else None,
                                         timeout=self.timeout)
        if response.status_code >= 400:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            raise SimulatorControlError(response.status_code, message)
        return response.json() if response.content else None

    # --- simulator-wide -------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """``{"status": "ok"}`` when the simulator is up."""
        return self._call("GET", "/health")

    def reset(self) -> None:
        """Back to the sample instance; clears faults, the request log and switches."""
        self._call("POST", "/reset")

    def request_log(self) -> dict[str, Any]:
        """``{total, token_requests, calls: {"METHOD /path": n}, operations: {operationId: n}}``."""
        return self._call("GET", "/requests")

    def reset_request_log(self) -> None:
        """Zero the request counters."""
        self._call("DELETE", "/requests")

    def add_fault(self, path_regex: str, status: int | None = None, *, method: str | None = None,
                  retry_after: int | None = None, delay_seconds: float | None = None,
                  malformed_json: bool | None = None, times: int = 1) -> dict[str, Any]:
        """Add a fault rule consumed by the next ``times`` matching requests; returns the rule."""
        return self._call("POST", "/faults", {"path_regex": path_regex, "status": status, "method": method,
                                              "retry_after": retry_after, "delay_seconds": delay_seconds,
                                              "malformed_json": malformed_json, "times": times})

    def faults(self) -> list[dict[str, Any]]:
        """Active fault rules with their remaining uses."""
        return self._call("GET", "/faults")

    def clear_faults(self) -> None:
        """Drop all fault rules."""
        self._call("DELETE", "/faults")

    def expire_tokens(self) -> int:
        """Expire every issued token now; returns how many were live."""
        return self._call("POST", "/tokens/expire")["expired"]

    def set_token_lifetime(self, seconds: int) -> None:
        """Lifetime (``expires_in``) of tokens issued from now on."""
        self._call("PUT", "/tokens/lifetime", {"seconds": seconds})

    def set_next_link(self, enabled: bool) -> None:
        """Emit ``@odata.nextLink`` on partial pages (off by default)."""
        self._call("PUT", "/odata/next-link", {"enabled": enabled})

    def add_instance(self, name: str, instance_id: str | None = None, sample: bool = False) -> dict[str, Any]:
        """Add an empty instance (or a copy of the sample content); returns ``InstanceInfo``."""
        return self._call("POST", "/instances", {"name": name, "instance_id": instance_id, "sample": sample})

    # --- data sources ---------------------------------------------------------------------------
    def add_data_source(self, name: str, *, friendly_name: str | None = None, kind: str = "powerQuery",
                        entities: list[str] | None = None, refresh_state: str = "notUpdated",
                        instance_id: str = SAMPLE_INSTANCE_ID) -> dict[str, Any]:
        """Add a data source with empty tables; returns ``DataSourceInfo``."""
        return self._call("POST", f"/instances/{instance_id}/datasources",
                          {"name": name, "friendly_name": friendly_name, "kind": kind, "entities": entities,
                           "refresh_state": refresh_state})

    def delete_data_source(self, data_source: str, *, instance_id: str = SAMPLE_INSTANCE_ID) -> None:
        """Remove a data source and its tables."""
        self._call("DELETE", f"/instances/{instance_id}/datasources/{data_source}")

    def start_refresh(self, data_source: str, outcome: str | None = None, message: str | None = None, *,
                      instance_id: str = SAMPLE_INSTANCE_ID) -> dict[str, Any]:
        """Start an on-demand ingestion job (``refreshState`` → updating); ``outcome`` =
        succeed|fail|cancel finishes it at once."""
        return self._call("POST", f"/instances/{instance_id}/datasources/{data_source}/refresh",
                          {"outcome": outcome, "message": message})

    def complete_refresh(self, data_source: str, *, instance_id: str = SAMPLE_INSTANCE_ID) -> dict[str, Any]:
        """The running refresh succeeds (``updated``)."""
        return self._call("POST", f"/instances/{instance_id}/datasources/{data_source}/refresh/complete", {})

    def fail_refresh(self, data_source: str, message: str | None = None, *,
                     instance_id: str = SAMPLE_INSTANCE_ID) -> dict[str, Any]:
        """The running refresh fails (``updateFailed``, task ``ciError`` = ``message``)."""
        return self._call("POST", f"/instances/{instance_id}/datasources/{data_source}/refresh/fail",
                          {"message": message})

    def cancel_refresh(self, data_source: str, *, instance_id: str = SAMPLE_INSTANCE_ID) -> dict[str, Any]:
        """The running refresh is cancelled (``updateCancelled``, job ``aborted``)."""
        return self._call("POST", f"/instances/{instance_id}/datasources/{data_source}/refresh/cancel", {})

    # --- jobs -----------------------------------------------------------------------------------
    def run_full_refresh(self, submission_kind: str = "scheduled", run: str = "all", fail_task: str | None = None,
                         message: str | None = None, *, instance_id: str = SAMPLE_INSTANCE_ID) -> dict[str, Any]:
        """Full refresh job (``operationType=all``). ``run="step"`` leaves it at its first task.
        ``fail_task`` (``"match"``, ``"ingestion:Loyalty"``...) fails when that task is advanced."""
        return self._call("POST", f"/instances/{instance_id}/refresh/full",
                          {"submission_kind": submission_kind, "run": run, "fail_task": fail_task,
                           "message": message})

    def run_unification(self, run: str = "all", fail_task: str | None = None, message: str | None = None,
                        submission_kind: str = "onDemand", *,
                        instance_id: str = SAMPLE_INSTANCE_ID) -> dict[str, Any]:
        """Unification job (``operationType=merge``: map, match, merge); same options as a full refresh."""
        return self._call("POST", f"/instances/{instance_id}/refresh/unification",
                          {"submission_kind": submission_kind, "run": run, "fail_task": fail_task,
                           "message": message})

    def advance_job(self, job_id: str, fail: bool = False, message: str | None = None, *,
                    instance_id: str = SAMPLE_INSTANCE_ID) -> dict[str, Any]:
        """Finish the running task (failing it if ``fail``) and start the next one."""
        return self._call("POST", f"/instances/{instance_id}/jobs/{job_id}/advance",
                          {"fail": fail, "message": message})

    def complete_job(self, job_id: str, fail_task: str | None = None, message: str | None = None, *,
                     instance_id: str = SAMPLE_INSTANCE_ID) -> dict[str, Any]:
        """Run the remaining tasks (failing ``fail_task`` if given)."""
        return self._call("POST", f"/instances/{instance_id}/jobs/{job_id}/complete",
                          {"fail_task": fail_task, "message": message})

    def cancel_job(self, job_id: str, *, instance_id: str = SAMPLE_INSTANCE_ID) -> dict[str, Any]:
        """Abort the job."""
        return self._call("POST", f"/instances/{instance_id}/jobs/{job_id}/cancel", {})

    # --- segments and measures ------------------------------------------------------------------
    def add_segment(self, name: str, count: int = 0, *, friendly_name: str | None = None, state: str = "active",
                    description: str | None = None, instance_id: str = SAMPLE_INSTANCE_ID) -> dict[str, Any]:
        """Add a segment (evaluated at once when active); returns ``SegmentMetadata``."""
        return self._call("POST", f"/instances/{instance_id}/segments",
                          {"name": name, "count": count, "friendly_name": friendly_name, "state": state,
                           "description": description})

    def set_segment_count(self, name: str, count: int, *, instance_id: str = SAMPLE_INSTANCE_ID) -> dict[str, Any]:
        """Record an evaluation with ``count`` members (``evaluationStatus.entityCount``)."""
        return self._call("PUT", f"/instances/{instance_id}/segments/{name}/count", {"count": count})

    def delete_segment(self, name: str, *, instance_id: str = SAMPLE_INSTANCE_ID) -> None:
        """Remove a segment."""
        self._call("DELETE", f"/instances/{instance_id}/segments/{name}")

    def add_measure(self, name: str, value: Any = None, *, values: Mapping[str, Any] | None = None,
                    is_scalar: bool = True, dimension: str | None = None, display_name: str | None = None,
                    description: str | None = None, instance_id: str = SAMPLE_INSTANCE_ID) -> dict[str, Any]:
        """Add a business measure (scalar with ``value`` or dimensioned with ``values``)."""
        return self._call("POST", f"/instances/{instance_id}/measures",
                          {"name": name, "value": value, "values": values, "is_scalar": is_scalar,
                           "dimension": dimension, "display_name": display_name, "description": description})

    def set_measure_value(self, name: str, value: Any = None, *, values: Mapping[str, Any] | None = None,
                          instance_id: str = SAMPLE_INSTANCE_ID) -> dict[str, Any]:
        """Record an evaluation: scalar ``output.values == {name: str(value)}``, else ``values``."""
        return self._call("PUT", f"/instances/{instance_id}/measures/{name}/value",
                          {"value": value, "values": values})

    def delete_measure(self, name: str, *, instance_id: str = SAMPLE_INSTANCE_ID) -> None:
        """Remove a measure."""
        self._call("DELETE", f"/instances/{instance_id}/measures/{name}")

    # --- identities (users_control.py) ----------------------------------------------------------
    def users(self) -> list[dict[str, Any]]:
        """The sample users with their object ids, app roles and CI roles per instance."""
        return self._call("GET", "/users")

    def add_user(self, user: str, name: str, *, app_roles: tuple[str, ...] = ()) -> dict[str, Any]:
        """Add a tenant user (no CI role: see :meth:`set_user_role`); removed again by a reset."""
        return dict(self._call("PUT", f"/users/{user}", {"name": name, "app_roles": list(app_roles)}))

    def user_token(self, user: str, *, audience: str | None = None, tenant_id: str | None = None,
                   lifetime_seconds: int | None = None, scope: str | None = None) -> str:
        """A signed access token of ``user`` (maker, viewer, admin, noaccess) for the backend."""
        body = {"audience": audience, "tenant_id": tenant_id, "lifetime_seconds": lifetime_seconds, "scope": scope}
        return str(self._call("POST", f"/users/{user}/token", body)["access_token"])

    def set_user_role(self, user: str, role: str | None, *, instance_id: str = SAMPLE_INSTANCE_ID) -> None:
        """Give ``user`` a CI role (Admin, Contributor, Viewer) on an instance, or none."""
        self._session.put(f"{self.base}/users/{user}/roles/{instance_id}", json={"role": role},
                          timeout=self.timeout).raise_for_status()

    def rotate_signing_keys(self) -> str:
        """Make a new signing key current (the previous one stays published); its ``kid``."""
        return str(self._call("POST", "/signing-keys/rotate")["kid"])

    def token_grants(self) -> dict[str, int]:
        """Tokens issued per grant since the last reset: ``client_credentials``, ``on_behalf_of``."""
        return dict(self._call("GET", "/tokens/grants"))


class ApiClient:
    """A bare authenticated CI API client built from ``settings_env()`` (tests and scripts).

    Paths are relative to ``CI_API_BASE_URL``; the token comes straight from the token endpoint.
    """

    def __init__(self, settings: Mapping[str, str], timeout: float = 30.0) -> None:
        self.settings = dict(settings)
        self.base_url = settings["CI_API_BASE_URL"].rstrip("/")
        self.timeout = timeout
        self.session = _session(settings["CI_CA_BUNDLE"])
        self._token: str | None = None

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()

    def fetch_token(self) -> str:
        """A new access token (also used by later calls)."""
        response = self.session.post(f"{self.settings['CI_AUTHORITY']}/oauth2/v2.0/token", timeout=self.timeout,
                                     data={"grant_type": "client_credentials",
                                           "client_id": self.settings["CI_CLIENT_ID"],
                                           "client_secret": self.settings["CI_CLIENT_SECRET"],
                                           "scope": self.settings["CI_SCOPE"]})
        response.raise_for_status()
        self._token = response.json()["access_token"]
        return self._token

    def headers(self) -> dict[str, str]:
        """Authorization and subscription-key headers."""
        return {"Authorization": f"Bearer {self._token or self.fetch_token()}",
                "Ocp-Apim-Subscription-Key": self.settings["CI_SUBSCRIPTION_KEY"]}

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """``method`` on ``base_url + path`` with credentials (override headers via ``headers=``)."""
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        return self.session.request(method, self.base_url + path, headers=headers, timeout=self.timeout, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """GET ``path``."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        """POST ``path``."""
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        """PATCH ``path``."""
        return self.request("PATCH", path, **kwargs)
