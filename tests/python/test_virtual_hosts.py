"""Virtual hosts against the real binary: two `[[virtual_host]]`s behind the same listeners, each
with its own destinations, access rules, limits and store. CONNECT's `host` header picks one; an
unknown or absent one picks the first. The management API answers per host (`?host=`) and
/metrics labels every series with its host."""

from __future__ import annotations

import signal
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import stomp
from prometheus_client.parser import text_string_to_metric_families
from test_auth import wait_for_log
from test_console_api import call, metric_value
from test_stomppy import Inbox, barrier

TIMEOUT = 5.0

# `shop` is the first host (the default); `lab` takes small bodies only. `ops` may do anything on
# both; `alice` only on shop, `bob` only on lab.
CONFIG = """
data_dir = "data"

[[listener]]
kind = "tcp"
address = "127.0.0.1:0"

[[listener]]
kind = "http"
address = "127.0.0.1:0"

[auth]
users_file = "users.properties"

[[virtual_host]]
id = "shop"
host_names = ["shop.example"]

[[virtual_host.access_rule]]
allow = "ops"
action = "*"

[[virtual_host.access_rule]]
allow = "alice"
action = "connect create send receive consume"

[[virtual_host]]
id = "lab"
host_names = ["lab.example", "Lab2.example"]

[virtual_host.limits]
max_body_bytes = 64

[[virtual_host.access_rule]]
allow = "ops"
action = "*"

[[virtual_host.access_rule]]
allow = "bob"
action = "connect create send receive consume"
"""

OPS = ("ops", "opspw")


@dataclass
class Hosts:
    """A running broker with the two hosts, its folder and its ports by listener kind."""

    broker: Any
    folder: Path
    ports: dict[str, int]

    def connect(self, host: str, user: tuple[str, str] = OPS, listener: Inbox | None = None) -> Any:
        """A stomp.py 1.2 connection to the tcp listener whose CONNECT says `host:HOST` (the
        broker's first reported listener may be the http one)."""
        connection = stomp.Connection12([("127.0.0.1", self.ports["tcp"])], vhost=host)
        if listener is not None:
            connection.set_listener("inbox", listener)
        connection.connect(*user, wait=True)
        return connection

    def api(self, path: str) -> Any:
        """`GET path` as `ops`: the JSON answer, or the HTTP status of a refusal."""
        answer = call(f"http://127.0.0.1:{self.ports['http']}{path}", user=OPS)
        if answer.status >= 400:
            return answer.status
        return answer.json() if path.startswith("/api/") else answer.body.decode()


@pytest.fixture
def start_hosts(broker_launcher, tmp_path: Path) -> Callable[[], Hosts]:
    """Starts the two-host broker on `tmp_path` (again after a stop: same data folder)."""
    (tmp_path / "users.properties").write_text("ops=opspw\nalice=alicepw\nbob=bobpw\n")
    config = tmp_path / "stompbox.toml"
    config.write_text(CONFIG)

    def start() -> Hosts:
        broker = broker_launcher(["--config", str(config)], listeners=2)
        return Hosts(broker, tmp_path, broker.ports())

    return start


def handshake(port: int, headers: dict[str, str]) -> tuple[str, str]:
    """A raw CONNECT with `headers` (no `host` unless given): the answer's command and text."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        lines = "".join(f"{name}:{value}\n" for name, value in {"accept-version": "1.2", **headers}.items())
        sock.sendall(f"CONNECT\n{lines}\n\0".encode())
        answer = b""
        while b"\0" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    text = answer.lstrip(b"\r\n").decode()
    return text.partition("\n")[0], text


def test_a_topic_message_stays_in_its_host(start_hosts):
    hosts = start_hosts()
    inbox = Inbox()
    subscriber = hosts.connect("lab.example", listener=inbox)
    subscriber.subscribe("/topic/news", id="news")
    barrier(subscriber)
    shop = hosts.connect("shop.example")
    shop.send("/topic/news", "from the shop", headers={"receipt": "sent"})
    barrier(shop)
    hosts.connect("lab2.example").send("/topic/news", "from the lab")
    # Had the shop's message crossed over, it would have been first: it was routed before.
    assert inbox.next().body == "from the lab"
    barrier(subscriber)
    inbox.assert_empty()


def test_the_host_header_picks_the_host_and_its_access_rules(start_hosts):
    port = start_hosts().ports["tcp"]
    login = {"alice": {"login": "alice", "passcode": "alicepw"}, "bob": {"login": "bob", "passcode": "bobpw"}}
    assert handshake(port, {"host": "shop.example", **login["alice"]})[0] == "CONNECTED"
    assert handshake(port, {"host": "LAB.example", **login["bob"]})[0] == "CONNECTED"
    command, text = handshake(port, {"host": "lab.example", **login["alice"]})
    assert command == "ERROR", text
    assert "message:" in text
    # Unknown or absent: the first host, shop, whose rules refuse bob and allow alice.
    for host in [{"host": "elsewhere.example"}, {}]:
        assert handshake(port, {**host, **login["alice"]})[0] == "CONNECTED"
        assert handshake(port, {**host, **login["bob"]})[0] == "ERROR"


def test_each_host_has_its_own_limits(start_hosts):
    hosts = start_hosts()
    big = "x" * 100
    shop = hosts.connect("shop.example")
    shop.send("/queue/big", big, headers={"receipt": "big"})
    barrier(shop)
    assert hosts.api("/api/destinations?host=shop&kind=queue")["total"] == 1
    inbox = Inbox()
    lab = hosts.connect("lab.example", listener=inbox)
    lab.send("/queue/big", big)
    error = inbox.errors.get(timeout=TIMEOUT)
    assert "max_body_bytes (64 bytes)" in error.headers["message"], error.headers
    assert hosts.api("/api/destinations?host=lab&kind=queue")["total"] == 0


def test_the_api_and_metrics_answer_per_host(start_hosts):
    hosts = start_hosts()
    lab = hosts.connect("lab.example")
    lab.send("/queue/jobs", "one")
    barrier(lab)
    overview = hosts.api("/api/broker")
    assert (overview["host"], overview["virtual_hosts"]) == ("shop", ["shop", "lab"])
    assert hosts.api("/api/broker?host=lab")["host"] == "lab"
    assert hosts.api("/api/broker?host=nowhere") == 404
    lab_queues = hosts.api("/api/destinations?host=lab&kind=queue")["items"]
    assert [(q["destination"], q["depth"]) for q in lab_queues] == [("/queue/jobs", 1)]
    assert hosts.api("/api/destinations?kind=queue")["total"] == 0, "the default host is shop"
    connections = hosts.api("/api/connections?host=lab")["items"]
    assert [c["user"] for c in connections] == ["ops"]
    assert hosts.api("/api/connections?host=shop")["total"] == 0

    families = {family.name: family for family in text_string_to_metric_families(hosts.api("/metrics"))}

    def value(name: str, **labels: str) -> float:
        return metric_value(families, name, **labels)

    assert value("stompbox_connections", host="lab") == 1
    assert value("stompbox_connections", host="shop") == 0
    assert value("stompbox_destination_depth_messages", host="lab", destination="/queue/jobs") == 1
    assert all("host" in sample.labels for sample in families["stompbox_messages_in"].samples)


def test_each_host_keeps_its_own_store_across_a_restart(start_hosts):
    hosts = start_hosts()
    lab = hosts.connect("lab.example")
    lab.send("/queue/jobs", "kept", headers={"persistent": "true", "receipt": "stored"})
    barrier(lab)
    lab.disconnect()
    assert hosts.broker.stop() == 0
    assert (hosts.folder / "data" / "virtual_hosts" / "lab").is_dir()
    assert (hosts.folder / "data" / "virtual_hosts" / "shop").is_dir()

    hosts = start_hosts()
    assert hosts.api("/api/destinations?host=shop&kind=queue")["total"] == 0
    inbox = Inbox()
    lab = hosts.connect("lab.example", listener=inbox)
    lab.subscribe("/queue/jobs", id=str(uuid.uuid4()))
    message = inbox.next()
    assert (message.body, message.headers["redelivered"]) == ("kept", "true")


def test_sighup_reloads_each_hosts_access_rules(start_hosts):
    hosts = start_hosts()
    bob_inbox, alice_inbox = Inbox(), Inbox()
    bob = hosts.connect("lab.example", ("bob", "bobpw"), bob_inbox)
    bob.subscribe("/topic/news", id="news")
    alice = hosts.connect("shop.example", ("alice", "alicepw"), alice_inbox)
    alice.subscribe("/topic/news", id="news")
    barrier(alice)
    # lab no longer lets bob in; shop's rules stay as they were.
    config = hosts.folder / "stompbox.toml"
    config.write_text(CONFIG.replace('allow = "bob"', 'allow = "nobody"'))
    hosts.broker.process.send_signal(signal.SIGHUP)
    error = bob_inbox.errors.get(timeout=TIMEOUT)
    assert error.headers["code"] == "access-denied", error.headers
    alice.send("/topic/news", "still here")
    assert alice_inbox.next().body == "still here"
    assert handshake(hosts.ports["tcp"], {"host": "lab.example", "login": "bob", "passcode": "bobpw"})[0] == "ERROR"


def test_sighup_refuses_renamed_hosts_and_keeps_the_rules_in_force(start_hosts):
    """Hosts are matched by id: renaming one needs a restart, not another host's rules."""
    hosts = start_hosts()
    config = hosts.folder / "stompbox.toml"
    config.write_text(CONFIG.replace('id = "lab"', 'id = "lab2"').replace('allow = "bob"', 'allow = "nobody"'))
    hosts.broker.process.send_signal(signal.SIGHUP)
    wait_for_log(hosts.broker, "reload failed", "the virtual hosts changed")
    assert handshake(hosts.ports["tcp"], {"host": "lab.example", "login": "bob", "passcode": "bobpw"})[0] == "CONNECTED"
