"""Settings: documented defaults and clear errors for malformed values."""
import pytest

from ciconnector.settings import DEFAULT_CI_SCOPE, Settings, SettingsError


def test_defaults():
    s = Settings.from_environ({})
    assert s.ci.base_url == "https://api.ci.ai.dynamics.com/v1"
    assert s.ci.scope == DEFAULT_CI_SCOPE == "https://api.ci.ai.microsoft.com/.default"
    assert s.ci.workflow_path == "manage/workflows" and s.ci.workflow_name == "main"
    assert s.ci.effective_authority == "https://login.microsoftonline.com/organizations"
    assert s.connector_host is None and s.connector_base_path == "/api"
    assert s.instance_ids == () and not s.ci.is_configured


def test_overrides():
    s = Settings.from_environ({"CI_TENANT_ID": "t1", "CI_WORKFLOW_PATH": "/workflows/",
                               "CI_INSTANCE_IDS": " A , b,", "CI_TIMEOUT_SECONDS": "2.5",
                               "CI_API_BASE_URL": "https://x/v1/"})
    assert s.ci.effective_authority == "https://login.microsoftonline.com/t1"
    assert s.ci.workflow_path == "workflows"
    assert s.instance_ids == ("a", "b")
    assert s.ci.timeout_seconds == 2.5 and s.ci.base_url == "https://x/v1"


@pytest.mark.parametrize("name, value", [("CI_WORKFLOW_PATH", "jobs"), ("CI_TIMEOUT_SECONDS", "soon"),
                                         ("CI_MAX_ATTEMPTS", "0"), ("CI_MAX_ATTEMPTS", "2.5")])
def test_malformed_settings_are_named(name, value):
    with pytest.raises(SettingsError, match=name):
        Settings.from_environ({name: value})


def test_secrets_not_in_repr():
    s = Settings.from_environ({"CI_CLIENT_SECRET": "hunter2", "CI_SUBSCRIPTION_KEY": "k3y"})
    assert "hunter2" not in repr(s) and "k3y" not in repr(s)


CI_BASE = {"CI_CLIENT_ID": "c1", "CI_TENANT_ID": "t1", "CI_SUBSCRIPTION_KEY": "k"}


@pytest.mark.parametrize("env, mode, configured", [
    ({}, "secret", False),
    ({"CI_CLIENT_SECRET": "s"}, "secret", True),
    ({"CI_CLIENT_CERTIFICATE_PATH": "/c.pem"}, "certificate", True),
    ({"CI_CLIENT_SECRET": "s", "CI_CLIENT_CERTIFICATE_PATH": "/c.pem"}, "secret", True),
    ({"CI_CREDENTIAL": "Certificate", "CI_CLIENT_SECRET": "s", "CI_CLIENT_CERTIFICATE_PATH": "/c.pem"},
     "certificate", True),
    ({"CI_CREDENTIAL": "managedidentity"}, "managedidentity", True),
])
def test_credential_mode_is_explicit_or_derived(env, mode, configured):
    ci = Settings.from_environ({**CI_BASE, **env}).ci
    assert ci.credential == mode and ci.is_configured is configured


def test_managed_identity_needs_no_app_registration():
    ci = Settings.from_environ({"CI_CREDENTIAL": "managedidentity", "CI_SUBSCRIPTION_KEY": "k",
                                "CI_MANAGED_IDENTITY_CLIENT_ID": "9E8D7C6B-5A4F-4E3D-8C2B-1A0F9E8D7C6B"}).ci
    assert ci.is_configured and ci.managed_identity_client_id == "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
    assert Settings.from_environ({"CI_CREDENTIAL": "managedidentity"}).ci.missing_settings == ("CI_SUBSCRIPTION_KEY",)


@pytest.mark.parametrize("env, message", [
    ({"CI_CREDENTIAL": "password"}, "CI_CREDENTIAL must be one of secret, certificate, managedidentity"),
    ({"CI_CREDENTIAL": "certificate"}, "CI_CREDENTIAL=certificate needs CI_CLIENT_CERTIFICATE_PATH"),
    ({"CI_CREDENTIAL": "secret", "CI_CLIENT_CERTIFICATE_PATH": "/c.pem"},
     "CI_CREDENTIAL=secret needs CI_CLIENT_SECRET"),
    ({"CI_CREDENTIAL": "certificate", "CI_CLIENT_CERTIFICATE_PATH": "/c.pem", "CI_CLIENT_ID": ""},
     "needs CI_CLIENT_ID"),
    ({"CI_CLIENT_CERTIFICATE_PASSWORD": "pw"}, "CI_CLIENT_CERTIFICATE_PATH is not"),
    ({"CI_MANAGED_IDENTITY_CLIENT_ID": "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"},
     "only with CI_CREDENTIAL=managedidentity"),
    ({"CI_CREDENTIAL": "managedidentity", "CI_MANAGED_IDENTITY_CLIENT_ID": "my-identity"}, "a GUID"),
])
def test_contradictory_credential_settings_are_named(env, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_environ({**CI_BASE, **env})


def test_certificate_password_not_in_repr():
    s = Settings.from_environ({**CI_BASE, "CI_CLIENT_CERTIFICATE_PATH": "/c.pfx",
                               "CI_CLIENT_CERTIFICATE_PASSWORD": "pw0rd"})
    assert "pw0rd" not in repr(s)


def test_auth_mode_defaults_to_function_keys_and_entra_needs_an_app_credential():
    from ciconnector.settings import Settings, SettingsError

    assert Settings.from_environ({}).auth.mode == "functionKey"
    base = {"CI_TENANT_ID": "T1", "CI_CLIENT_ID": "c1", "CI_CLIENT_SECRET": "s"}
    auth = Settings.from_environ({**base, "AUTH_MODE": "Entra"}).auth
    assert (auth.entra, auth.audiences, auth.allowed_tenants) == (True, ("c1", "api://c1"), ("t1",))
    with pytest.raises(SettingsError, match="AUTH_MODE must be"):
        Settings.from_environ({"AUTH_MODE": "oauth"})
    with pytest.raises(SettingsError, match="CI_CREDENTIAL=secret or certificate"):
        Settings.from_environ({"AUTH_MODE": "entra", "CI_CREDENTIAL": "managedidentity"})
