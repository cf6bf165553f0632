"""Cluster mode with the real binary: two nodes sharing topics through a real `nats-server`
(Debian's, which scripts/test installs). A stomp.py client on node A and a browser-like WebSocket
client on node B talk to each other; with NATS stopped, each node serves its own clients and says
so in its log, its management API and /metrics, and topics cross again once NATS is back. Queues
cross JetStream: a node killed with SIGKILL while its consumer holds unacknowledged messages
gives them, after `ack_wait_ms`, to a consumer on another node; restarted, it rejoins. So do
durable subscriptions: what one collected while its client was away survives its node's SIGKILL,
and the client finds it on another node."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import stomp
from prometheus_client.parser import text_string_to_metric_families
from test_listeners import Inbox, frame
from websockets.sync.client import connect

TIMEOUT = 5.0


class Nats:
    """`nats-server` with JetStream (its store under `folder`) on a free loopback port (found by
    binding 127.0.0.1:0), restartable on it."""

    def __init__(self, folder: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.store = folder / "jetstream"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["nats-server", "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        until(lambda: self.accepts(), "nats-server to listen")

    def accepts(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT).close()
            return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=TIMEOUT)
            self.process = None


def until(condition: Callable[[], bool], what: str) -> None:
    """Waits (bounded by TIMEOUT, twice over for a reconnect's backoff) until `condition` holds."""
    deadline = time.monotonic() + 2 * TIMEOUT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@dataclass
class Node:
    broker: Any  # conftest's RunningBroker
    ports: dict[str, int]

    def api(self, path: str) -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ports['http']}{path}", timeout=TIMEOUT) as response:
            return response.read()

    def cluster(self, host: str | None = None) -> dict[str, Any]:
        """The cluster card of the node's (or its virtual host `host`'s) snapshot."""
        return json.loads(self.api("/api/broker" + (f"?host={host}" if host else "")))["cluster"]

    def stomppy(self, host: str | None = None) -> tuple[stomp.Connection12, Inbox]:
        """A stomp.py connection to the node's tcp listener (CONNECT's `host` header: `host`), and
        the inbox of what it receives."""
        connection = stomp.Connection12([("127.0.0.1", self.ports["tcp"])], vhost=host)
        inbox = Inbox()
        connection.set_listener("inbox", inbox)
        connection.connect(wait=True)
        return connection, inbox

    def metric(self, name: str) -> float:
        families = text_string_to_metric_families(self.api("/metrics").decode())
        return next(s.value for f in families for s in f.samples if s.name == f"stompbox_{name}")


def start_node(
    launcher: Callable[..., Any], folder: Path, nats: Nats, name: str, cluster_keys: str = "", tables: str = ""
) -> Node:
    """Node `name` of the cluster on `nats` (its configuration in `folder`, ending with `tables`),
    once connected."""
    config = folder / f"{name}.toml"
    config.write_text(
        "".join(f'[[listener]]\nkind = "{kind}"\naddress = "127.0.0.1:0"\n' for kind in ["tcp", "ws", "http"])
        + f'[cluster]\nnats = ["{nats.url}"]\nnode = "{name}"\nsubject_prefix = "pytest"\n{cluster_keys}'
        + tables
    )
    broker = launcher(["--config", str(config)], listeners=3)
    node = Node(broker, broker.ports())
    until(lambda: node.cluster()["state"] == "connected", "the node to connect to NATS")
    return node


@pytest.fixture(name="cluster")
def cluster_fixture(tmp_path: Path, broker_launcher: Callable[..., Any]) -> Iterator[tuple[Nats, Node, Node]]:
    nats = Nats(tmp_path)
    nodes = [start_node(broker_launcher, tmp_path, nats, name) for name in ["a", "b"]]
    yield nats, nodes[0], nodes[1]
    for node in nodes:
        assert node.broker.stop() == 0, "".join(node.broker.log)
    nats.stop()


def test_stomppy_on_one_node_talks_to_a_websocket_client_on_another(cluster: tuple[Nats, Node, Node]) -> None:
    _, a, b = cluster
    connection, inbox = a.stomppy()
    try:
        connection.subscribe("/topic/chat.lobby", id="0", receipt="sub-0")
        with connect(f"ws://127.0.0.1:{b.ports['ws']}/", open_timeout=TIMEOUT, subprotocols=["v12.stomp"]) as ws:
            ws.send("CONNECT\naccept-version:1.2\nhost:localhost\n\n\0")
            assert frame(ws).startswith("CONNECTED\n")
            ws.send("SUBSCRIBE\ndestination:/topic/chat.*\nid:0\nreceipt:r\n\n\0")
            assert frame(ws).startswith("RECEIPT\n")
            for node in (a, b):
                until(lambda: node.cluster()["subscriptions"] == 1, "interest to reach NATS")
            connection.send("/topic/chat.lobby", "from stomp.py on a", headers={"mood": "curious"})
            message = frame(ws)
            assert "\nmood:curious\n" in message and message.endswith("\n\nfrom stomp.py on a\0"), message
            ws.send("SEND\ndestination:/topic/chat.lobby\n\nfrom the browser on b\0")
            bodies = [inbox.bodies.get(timeout=TIMEOUT) for _ in range(2)]
            assert bodies == ["from stomp.py on a", "from the browser on b"]
    finally:
        connection.disconnect()


def test_without_nats_nodes_serve_locally_and_say_so(cluster: tuple[Nats, Node, Node]) -> None:
    nats, a, _ = cluster
    assert a.metric("cluster_connected") == 1
    nats.stop()
    until(lambda: a.cluster()["state"] == "disconnected", "node a to see NATS gone")
    assert a.metric("cluster_connected") == 0
    until(lambda: any("NATS unreachable" in line for line in a.broker.log), "the log to say so")
    connection, inbox = a.stomppy()
    try:
        connection.subscribe("/topic/local", id="0", receipt="sub-0")
        connection.send("/topic/local", "still served")
        assert inbox.bodies.get(timeout=TIMEOUT) == "still served"
    finally:
        connection.disconnect()
    nats.start()
    until(lambda: a.cluster()["state"] == "connected", "node a to reconnect")
    assert a.metric("cluster_connected") == 1


@pytest.fixture(name="nodes")
def nodes_fixture(tmp_path: Path, broker_launcher: Callable[..., Any]) -> Iterator[Callable[..., Node]]:
    """Starts node NAME (its configuration ending with `tables`) on one NATS, handing a message
    its consumer holds for 1 s to another node (`ack_wait_ms`)."""
    nats = Nats(tmp_path)
    try:
        yield lambda name, tables="": start_node(broker_launcher, tmp_path, nats, name, "ack_wait_ms = 1000\n", tables)
    finally:
        nats.stop()


def test_a_killed_nodes_unacknowledged_queue_messages_go_to_another_node(nodes: Callable[..., Node]) -> None:
    a, b, c = (nodes(name) for name in "abc")
    holder, held = c.stomppy()
    holder.subscribe("/queue/work", id="0", ack="client-individual")
    until(lambda: c.cluster()["queues"] == 1, "c to pull the queue from JetStream")
    producer, _ = a.stomppy()
    for n in range(5):
        producer.send("/queue/work", f"job {n}")
    until(lambda: a.cluster()["queue_sent"] == 5, "JetStream to store the 5 jobs")
    assert sorted(held.bodies.get(timeout=TIMEOUT) for _ in range(5)) == [f"job {n}" for n in range(5)]

    c.broker.process.kill()  # SIGKILL: c acknowledges nothing more, and gives nothing back
    c.broker.process.wait(timeout=TIMEOUT)
    taker, taken = b.stomppy()
    taker.subscribe("/queue/work", id="0")
    redelivered = sorted(taken.bodies.get(timeout=TIMEOUT) for _ in range(5))
    assert redelivered == [f"job {n}" for n in range(5)], "after ack_wait_ms, to b's consumer"
    assert b.metric("cluster_queue_received_total") >= 5
    taker.disconnect()

    c = nodes("c")
    rejoined, inbox = c.stomppy()
    rejoined.subscribe("/queue/work", id="0")
    until(lambda: c.cluster()["queues"] == 1, "the restarted c to pull the queue again")
    producer.send("/queue/work", "after the restart")
    assert inbox.bodies.get(timeout=TIMEOUT) == "after the restart"
    for connection in (rejoined, producer):
        connection.disconnect()


def test_a_durable_subscriptions_backlog_survives_its_node_killed(nodes: Callable[..., Node]) -> None:
    a, b, c = (nodes(name) for name in "abc")
    reader, _ = c.stomppy()
    reader.subscribe("/topic/news.*", id="reader", headers={"persistent": "true"})

    def knows(node: Node) -> bool:
        items = json.loads(node.api("/api/destinations?kind=dsub"))["items"]
        return [item["destination"] for item in items] == ["/dsub/reader"]

    for node in (a, b):
        until(lambda: knows(node), "every node to know the durable subscription")
    reader.disconnect()
    producer, _ = a.stomppy()
    for n in range(5):
        producer.send("/topic/news.eu", f"news {n}", headers={"persistent": "true", "receipt": f"r{n}"})
    producer.disconnect()  # its RECEIPT comes after the SENDs': JetStream holds all five
    c.broker.process.kill()  # SIGKILL: the node that made the subscription is gone
    c.broker.process.wait(timeout=TIMEOUT)

    again, inbox = b.stomppy()
    again.subscribe("/topic/news.*", id="reader", headers={"persistent": "true"})
    # What c's last pull took as its client left comes after `ack_wait_ms`, after the rest.
    assert sorted(inbox.bodies.get(timeout=TIMEOUT) for _ in range(5)) == [f"news {n}" for n in range(5)]
    again.disconnect()


VIRTUAL_HOSTS = """
[[virtual_host]]
id = "shop"
host_names = ["shop.example.com"]
[[virtual_host]]
id = "lab"
host_names = ["lab.example.com"]
"""


def test_virtual_hosts_keep_their_queues_and_topics_apart_across_nodes(nodes: Callable[..., Node]) -> None:
    """Each virtual host has its own NATS subjects and JetStream streams: a queue or topic of one
    host, sent on node a, reaches the same-named destination of that host only, on node b."""
    a, b = (nodes(name, tables=VIRTUAL_HOSTS) for name in "ab")
    shop, shop_inbox = b.stomppy("shop.example.com")
    lab, lab_inbox = b.stomppy("lab.example.com")
    for connection in (shop, lab):
        connection.subscribe("/queue/orders", id="0")
        connection.subscribe("/topic/news", id="1", receipt="news")
    shop_producer, _ = a.stomppy("shop.example.com")
    lab_producer, _ = a.stomppy("lab.example.com")
    for host in ("shop", "lab"):
        until(lambda: b.cluster(host)["subscriptions"] == 1, f"{host}'s topic interest to reach NATS")
    for producer, name in ((shop_producer, "shop"), (lab_producer, "lab")):
        producer.send("/topic/news", f"{name} news")
        producer.send("/queue/orders", f"a {name} order")
    assert sorted(shop_inbox.bodies.get(timeout=TIMEOUT) for _ in range(2)) == ["a shop order", "shop news"]
    assert sorted(lab_inbox.bodies.get(timeout=TIMEOUT) for _ in range(2)) == ["a lab order", "lab news"]
    # Each host's queue is one JetStream consumer, in order: a stray message would come first.
    for producer in (shop_producer, lab_producer):
        producer.send("/queue/orders", "last")
    assert shop_inbox.bodies.get(timeout=TIMEOUT) == "last"
    assert lab_inbox.bodies.get(timeout=TIMEOUT) == "last"
    for connection in (shop, lab, shop_producer, lab_producer):
        connection.disconnect()
