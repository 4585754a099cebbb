"""Storage connection resolution: the Functions rules for ``AzureWebJobsStorage`` and binding names."""
import pytest

from ciconnector.settings import Settings, SettingsError
from ciconnector.storage.connection import (
    CONNECTION_STRING,
    IDENTITY,
    StorageConnectionError,
    StorageNotConfiguredError,
    resolve,
)

KEYED = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0;EndpointSuffix=core.windows.net"


def test_a_value_is_a_connection_string_and_wins_over_identity_settings():
    c = resolve(environ={"AzureWebJobsStorage": KEYED, "AzureWebJobsStorage__accountName": "other"})
    assert c.mode == CONNECTION_STRING and c.connection_string == KEYED
    assert "c2VjcmV0" not in repr(c) and "c2VjcmV0" not in str(c.describe())
    assert c.describe() == {"mode": "connectionString", "connection": "AzureWebJobsStorage"}


def test_account_name_infers_the_global_azure_endpoints_with_the_system_assigned_identity():
    c = resolve(environ={"AzureWebJobsStorage": " ", "AzureWebJobsStorage__accountName": "acct"})
    assert c.mode == IDENTITY and c.identity == "systemAssigned"
    assert (c.table_uri, c.queue_uri, c.blob_uri) == ("https://acct.table.core.windows.net",
                                                      "https://acct.queue.core.windows.net",
                                                      "https://acct.blob.core.windows.net")


def test_explicit_service_uris_win_and_client_id_selects_a_user_assigned_identity():
    c = resolve(environ={"AzureWebJobsStorage__accountName": "acct",
                         "AzureWebJobsStorage__queueServiceUri": "https://q.example.net/",
                         "azurewebjobsstorage__CREDENTIAL": "ManagedIdentity",  # names are case-insensitive
                         "AzureWebJobsStorage__clientId": "11111111-2222-3333-4444-555555555555"})
    assert c.queue_uri == "https://q.example.net" and c.table_uri == "https://acct.table.core.windows.net"
    assert c.identity == "userAssigned" and c.client_id.startswith("1111")


def test_a_binding_name_falls_back_to_the_azurewebjobs_prefix_and_serviceuri_is_the_queue_alias():
    c = resolve("Jobs", environ={"AzureWebJobsJobs__serviceUri": "https://acct.queue.core.windows.net"}, binding=True)
    assert c.name == "AzureWebJobsJobs" and c.queue_uri == "https://acct.queue.core.windows.net"
    with pytest.raises(StorageConnectionError, match="no table endpoint.*AzureWebJobsJobs__tableServiceUri"):
        c.service_uri("table")


@pytest.mark.parametrize("env, message", [
    ({"AzureWebJobsStorage__accountName": "a", "AzureWebJobsStorage__credential": "managedidentityasfederatedidentity"},
     "supports only 'managedidentity'"),
    ({"AzureWebJobsStorage__accountName": "a", "AzureWebJobsStorage__clientId": "x",
      "AzureWebJobsStorage__managedIdentityResourceId": "/subscriptions/y"}, "not both"),
    ({"AzureWebJobsStorage__accountName": "a", "AzureWebJobsStorage__clientSecret": "s"}, "not supported"),
    ({"AzureWebJobsStorage__tableServiceUri": "http://acct.table.core.windows.net"}, "https://"),
])
def test_contradictory_or_unsupported_settings_are_named(env, message):
    with pytest.raises(StorageConnectionError, match=message):
        resolve(environ=env)
    with pytest.raises(SettingsError, match=message):
        Settings.from_environ(env)


def test_nothing_configured_names_every_way_to_configure_it():
    for env in ({}, {"AzureWebJobsStorage": ""}, {"AzureWebJobsStorage__credential": "managedidentity"}):
        with pytest.raises(StorageNotConfiguredError, match="AzureWebJobsStorage__accountName"):
            resolve(environ=env)
    settings = Settings.from_environ({})
    assert settings.storage is None
    with pytest.raises(StorageNotConfiguredError, match="set AzureWebJobsStorage to a connection string"):
        settings.require_storage()


def test_dev_ca_bundles_are_carried_for_tls_to_azurite_and_the_identity_endpoint():
    c = Settings.from_environ({"AzureWebJobsStorage__accountName": "a", "STORAGE_CA_BUNDLE": "/ca.pem",
                               "IDENTITY_CA_BUNDLE": "/id.pem"}).require_storage()
    assert (c.ca_bundle, c.identity_ca_bundle) == ("/ca.pem", "/id.pem")
