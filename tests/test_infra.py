"""The deployment template (infra/main.json, an ARM template: the Bicep compiler cannot be installed
here), checked without the Azure CLI: resources, role assignments, app settings against what
``ciconnector/settings.py`` and the function bindings require, and no secret in plain text."""
from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from ciconnector.settings import CI_CREDENTIALS, CustomerInsightsSettings, Settings

INFRA = Path(__file__).resolve().parents[1] / "infra"
TEMPLATE = json.loads((INFRA / "main.json").read_text(encoding="utf-8"))
PARAMETERS = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))

ROLES = {"b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
         "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
         "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor"}
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
PLATFORM_SETTINGS = {"APPLICATIONINSIGHTS_CONNECTION_STRING", "WEBSITE_LOAD_CERTIFICATES"}
"""Read by the Functions platform, not by the app: Application Insights, loading the CI certificate."""
CHOSEN_SETTINGS = {"AzureWebJobsStorage__credential", "CI_INSTANCE_IDS"}
"""Optional for settings.py, set on purpose: the storage credential said explicitly, the instance allowlist."""
SECRET_SETTINGS = {"CI_CLIENT_SECRET", "CI_SUBSCRIPTION_KEY", "CI_CLIENT_CERTIFICATE_PASSWORD"}


def resources(kind: str) -> list[dict[str, Any]]:
    return [r for r in TEMPLATE["resources"] if r["type"].lower() == kind.lower()]


def variable(name: str) -> Any:
    return TEMPLATE["variables"][name]


def role_id(assignment: dict[str, Any]) -> str:
    """The role a role assignment grants: the variable its roleDefinitionId names, resolved."""
    match = re.search(r"variables\('(\w+)'\)", assignment["properties"]["roleDefinitionId"])
    assert match, assignment
    return variable(match[1])


def app_settings(mode: str) -> dict[str, str]:
    """The site's app settings for ``ciCredential=mode``, as its appSettings expression builds them."""
    [site] = resources("Microsoft.Web/sites")
    expression = site["properties"]["siteConfig"]["appSettings"]
    assert expression.startswith("[concat(createArray(createObject('name', 'APPLICATIONINSIGHTS_CONNECTION_STRING'")
    assert expression.endswith("variables('appSettings'), variables('ciSettings')[parameters('ciCredential')])]")
    pairs = [*variable("appSettings"), *variable("ciSettings")[mode]]
    names = [p["name"] for p in pairs]
    assert len(names) == len(set(names)), names
    return {"APPLICATIONINSIGHTS_CONNECTION_STRING": "[reference(...).ConnectionString]",
            **{p["name"]: p["value"] for p in pairs}}


def evaluated(settings: dict[str, str]) -> dict[str, str]:
    """Literal values as they are; a parameter with a default as that default; other expressions as
    a stand-in value a deployment would give."""
    def value_of(value: str) -> str:
        parameter = re.fullmatch(r"\[parameters\('(\w+)'\)\]", value)
        default = TEMPLATE["parameters"].get(parameter.group(1), {}).get("defaultValue") if parameter else None
        if isinstance(default, str) and default and not default.startswith("["):
            return default
        return value if not value.startswith("[") else "00000000-0000-4000-8000-000000000000"

    return {name: value_of(value) for name, value in settings.items()}


@functools.cache
def binding_settings() -> frozenset[str]:
    """App settings the function bindings read (``%NAME%``), from the indexed app (indexed once: the
    SDK refuses a second ``get_functions`` on the same app)."""
    import function_app

    names: set[str] = set()
    for function in function_app.app.get_functions():
        names |= set(re.findall(r"%(\w+)%", function.get_function_json()))
    return frozenset(names)


def required_settings(mode: str) -> set[str]:
    """What settings.py says a CI call needs in ``mode`` (``missing_settings`` of empty settings:
    "A or B" takes the first), the explicit mode itself, identity-based storage, and the bindings'."""
    ci = {name.split(" or ")[0] for name in CustomerInsightsSettings(credential=mode).missing_settings}
    assert Settings.from_environ({}).storage is None  # storage must be configured
    return ci | {"CI_CREDENTIAL", "AzureWebJobsStorage__accountName"} | binding_settings()


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def test_flex_consumption_python_313_with_a_system_assigned_identity():
    [plan] = resources("Microsoft.Web/serverfarms")
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"} and plan["properties"]["reserved"] is True
    [site] = resources("Microsoft.Web/sites")
    assert site["kind"] == "functionapp,linux" and site["identity"] == {"type": "SystemAssigned"}
    config = site["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.13"}
    assert config["deployment"]["storage"]["type"] == "blobContainer"
    assert config["deployment"]["storage"]["authentication"] == {"type": "SystemAssignedIdentity"}
    assert site["properties"]["httpsOnly"] is True
    assert resources("Microsoft.Insights/components") and resources("Microsoft.OperationalInsights/workspaces")


def test_storage_allows_no_shared_key():
    [account] = resources("Microsoft.Storage/storageAccounts")
    assert account["properties"]["allowSharedKeyAccess"] is False
    assert account["properties"]["allowBlobPublicAccess"] is False


def test_the_apps_identity_gets_the_three_storage_roles_and_reads_key_vault_secrets():
    assignments = resources("Microsoft.Authorization/roleAssignments")
    for assignment in assignments:
        assert "Microsoft.Web/sites" in assignment["properties"]["principalId"]
        assert ".identity.principalId" in assignment["properties"]["principalId"]
        assert assignment["properties"]["principalType"] == "ServicePrincipal"
    on_storage = {role_id(a) for a in assignments
                  if a["scope"].startswith("[format('Microsoft.Storage/storageAccounts/")}
    assert on_storage == set(ROLES)
    on_vault = {role_id(a) for a in assignments if a["scope"].startswith("[format('Microsoft.KeyVault/vaults/")}
    assert on_vault == {KEY_VAULT_SECRETS_USER}
    [vault] = resources("Microsoft.KeyVault/vaults")
    assert vault["properties"]["enableRbacAuthorization"] is True


@pytest.mark.parametrize("mode", CI_CREDENTIALS)
def test_app_settings_are_what_settings_py_requires(mode):
    settings = app_settings(mode)
    assert set(settings) - PLATFORM_SETTINGS - CHOSEN_SETTINGS == required_settings(mode)
    assert "AzureWebJobsStorage" not in settings  # no connection string: identity-based storage only
    parsed = Settings.from_environ(evaluated(settings))
    assert parsed.storage is not None and parsed.storage.identity == "systemAssigned"
    assert parsed.storage.table_uri == "https://00000000-0000-4000-8000-000000000000.table.core.windows.net"
    assert parsed.ci.credential == mode and parsed.ci.is_configured


@pytest.mark.parametrize("mode", CI_CREDENTIALS)
def test_secrets_are_key_vault_references(mode):
    for name, value in app_settings(mode).items():
        if name in SECRET_SETTINGS:
            assert value.startswith("[format('@Microsoft.KeyVault(VaultName={0};SecretName="), name


def test_no_key_or_secret_in_plain_text():
    secure = {name for name, p in TEMPLATE["parameters"].items() if p["type"] == "securestring"}
    assert secure == {"ciClientSecret", "ciSubscriptionKey"}
    assert all(TEMPLATE["parameters"][name].get("defaultValue", "") == "" for name in secure)
    assert not secure & set(PARAMETERS["parameters"])  # az prompts for them; they are not in a file
    for text in strings(TEMPLATE):
        for name in secure:  # a secure value goes only into its Key Vault secret
            if f"parameters('{name}')" in text:
                assert text == f"[parameters('{name}')]"
        assert not re.search(r"AccountKey=|SharedAccessSignature|sig=|InstrumentationKey=|listKeys", text), text
        assert not [token for token in re.findall(r"[A-Za-z0-9+/=_]{24,}", text)  # key-like: mixed case and digits
                    if re.search(r"\d", token) and re.search(r"[a-z]", token) and re.search(r"[A-Z]", token)], text
    secret_values = [r for r in resources("Microsoft.KeyVault/vaults/secrets")]
    assert {r["properties"]["value"] for r in secret_values} == {f"[parameters('{n}')]" for n in secure}
    assert not any("parameters('ci" in str(o["value"]) for o in TEMPLATE["outputs"].values())


def test_parameters_file_names_only_template_parameters():
    assert set(PARAMETERS["parameters"]) <= set(TEMPLATE["parameters"])
    required = {name for name, p in TEMPLATE["parameters"].items() if "defaultValue" not in p}
    assert required == {"appName", "ciSubscriptionKey"}  # the command passes appName; az prompts for the key
