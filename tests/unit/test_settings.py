"""Settings: documented defaults and clear errors for malformed values."""
import pytest

from ciconnector.settings import DEFAULT_CI_SCOPE, Settings, SettingsError


def test_defaults():
    s = Settings.from_environ({})
    assert s.ci.base_url == "https://api.ci.ai.dynamics.com/v1"
    assert s.ci.scope == DEFAULT_CI_SCOPE == "https://api.ci.ai.microsoft.com/.default"
    assert s.ci.workflow_path == "workflows" and s.ci.workflow_name == "main"
    assert s.ci.effective_authority == "https://login.microsoftonline.com/organizations"
    assert s.connector_host is None and s.connector_base_path == "/api"
    assert s.instance_ids == () and not s.ci.is_configured


def test_overrides():
    s = Settings.from_environ({"CI_TENANT_ID": "t1", "CI_WORKFLOW_PATH": "/manage/workflows/",
                               "CI_INSTANCE_IDS": " A , b,", "CI_TIMEOUT_SECONDS": "2.5",
                               "CI_API_BASE_URL": "https://x/v1/"})
    assert s.ci.effective_authority == "https://login.microsoftonline.com/t1"
    assert s.ci.workflow_path == "manage/workflows"
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
