"""Every Kafka client of the product, the CLI and the benchmarks is built by
`KafkaConnection` (agents/kafka/connection.py), so a client added later cannot forget
the TLS and SASL settings: constructing one anywhere else fails this test."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[4]
THE_ONE_PLACE = REPO / "agents" / "kafka" / "connection.py"
# aiokafka's clients and connection, and Faust's app (which builds its own clients).
CLIENTS = {"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient", "AIOKafkaClient"}
CONNECTIONS = {"create_conn", "AIOKafkaConnection"}


def constructions(source: str) -> list[tuple[int, str]]:
    """(line, name) of each Kafka client constructed in `source`."""
    found = []
    faust_apps = set()
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "faust":
            faust_apps |= {
                alias.asname or alias.name for alias in node.names if alias.name == "App"
            }
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        owner = (
            func.value.id
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
            else ""
        )
        if (
            name in CLIENTS | CONNECTIONS
            or (name == "App" and owner == "faust")
            or (isinstance(func, ast.Name) and name in faust_apps)
        ):
            found.append((node.lineno, name))
    return found


def test_no_kafka_client_is_constructed_outside_the_connection() -> None:
    elsewhere = []
    for package in ("agents", "bench"):
        for path in sorted((REPO / package).rglob("*.py")):
            if path == THE_ONE_PLACE:
                continue
            for line, name in constructions(path.read_text(encoding="utf-8")):
                elsewhere.append(f"{path.relative_to(REPO)}:{line}: {name}(...)")
    assert elsewhere == [], (
        "Kafka clients must come from KafkaConnection (settings.kafka.producer(), "
        ".consumer(), .admin(), .faust_app()), which gives them TLS and SASL:\n"
        + "\n".join(elsewhere)
    )


def test_the_connection_is_where_the_clients_are_made() -> None:
    made = {name for _, name in constructions(THE_ONE_PLACE.read_text(encoding="utf-8"))}
    assert {"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient", "App"} <= made


def test_the_check_sees_each_way_of_making_a_client() -> None:
    source = """
import faust
from faust import App as FaustApp
from aiokafka import AIOKafkaProducer
import aiokafka.admin
p = AIOKafkaProducer(bootstrap_servers="x")
a = aiokafka.admin.AIOKafkaAdminClient(bootstrap_servers="x")
app = faust.App("id", broker="kafka://x")
other = FaustApp("id")
"""
    assert [name for _, name in constructions(source)] == sorted(
        ["AIOKafkaProducer", "AIOKafkaAdminClient", "App", "FaustApp"],
        key=["AIOKafkaProducer", "AIOKafkaAdminClient", "App", "FaustApp"].index,
    )
