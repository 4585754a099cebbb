"""The Azurite launcher (dev/azurite.py) and the session fixture."""
from __future__ import annotations

import socket
import uuid
from typing import Any

import pytest
from azure.data.tables import TableServiceClient

from dev.azurite import DEFAULT_PORTS, Azurite, AzuriteError, connection_string
from tests.apps.sample_support import queue_client


def test_default_port_connection_string_matches_development_storage() -> None:
    text = connection_string()
    assert "AccountName=devstoreaccount1;" in text
    for service, port in DEFAULT_PORTS.items():
        assert f"{service.capitalize()}Endpoint=http://127.0.0.1:{port}/devstoreaccount1;" in text
    command = Azurite(default_ports=True).command()
    assert command[command.index("--queuePort") + 1] == "10001"
    flags = {"--silent", "--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck"}
    assert flags <= set(command)


def test_session_azurite_serves_queues_and_tables(azurite: Any) -> None:
    name = f"q{uuid.uuid4().hex[:12]}"
    client = queue_client(azurite.connection_string, name)
    client.create_queue()
    client.send_message("hello")
    assert [m.content for m in client.receive_messages()] == ["hello"]
    tables = TableServiceClient.from_connection_string(azurite.connection_string)
    table = tables.create_table(f"t{uuid.uuid4().hex[:12]}")
    table.create_entity({"PartitionKey": "p", "RowKey": "r", "Value": 1})
    assert table.get_entity("p", "r")["Value"] == 1


def test_private_instance_uses_free_ports_and_stops() -> None:
    with Azurite() as instance:
        ports = dict(instance.ports)
        assert set(ports) == {"blob", "queue", "table"} and len(set(ports.values())) == 3
        assert f"QueueEndpoint=http://127.0.0.1:{ports['queue']}/" in instance.connection_string
    assert not instance.is_running
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", ports["queue"]), timeout=1).close()
    with pytest.raises(AzuriteError):
        _ = instance.connection_string
