"""`stompbox create`: the real binary makes an instance, `stompbox run` serves it, and the admin
password it printed logs in over tcp, tls, ws and wss, while a wrong one is refused with
`authentication-failed`. The tls and wss clients trust the instance's own certificate: the
Python module over `ssl://` (rustls), Python's `websockets` and stomp.py over TLS (OpenSSL),
and the chat page in Chromium over `wss`. The console answers over https, and persistent
messages outlive a restart in the instance's data/ folder. The test only rewrites the listeners' ports to 0, to run beside anything else."""

from __future__ import annotations

import base64
import json
import re
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import stomp
from websockets.sync.client import connect

import stompbox
from browser import chromium, join_chat, say, wait_for_state
from selenium.webdriver.common.by import By

TIMEOUT = 20.0  # a deadline for a loaded machine (argon2 logins, TLS), not a threshold
PASSWORD = re.compile(r"^ {4}admin / (\S+)$", re.MULTILINE)
LISTENER_ADDRESS = re.compile(r'^address = "127\.0\.0\.1:\d+"$', re.MULTILINE)


@dataclass
class Instance:
    """A created instance, running."""

    dir: Path
    password: str
    ports: dict[str, int]
    broker: Any

    @property
    def cert(self) -> Path:
        return self.dir / "etc" / "tls" / "cert.pem"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


def create(broker_binary: Path, dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([broker_binary, "create", str(dir), *args], capture_output=True, text=True, timeout=60)


@pytest.fixture(name="instance")
def instance_fixture(
    tmp_path: Path, broker_binary: Path, broker_launcher: Callable[..., Any]
) -> Iterator[Instance]:
    made = create(broker_binary, tmp_path / "chat", "--host", "localhost", "--host", "127.0.0.1")
    assert made.returncode == 0, made.stderr
    found = PASSWORD.search(made.stdout)
    assert found, made.stdout
    config = tmp_path / "chat" / "etc" / "stompbox.toml"
    text = config.read_text()
    assert len(LISTENER_ADDRESS.findall(text)) == 6, text
    config.write_text(LISTENER_ADDRESS.sub('address = "127.0.0.1:0"', text))
    broker = broker_launcher(["--config", str(config)], listeners=6)
    yield Instance(tmp_path / "chat", found.group(1), broker.ports(), broker)
    assert broker.stop() == 0, "".join(broker.log)


def ws_connect(instance: Instance, kind: str, password: str) -> str:
    """Logs in over `ws` or `wss` and returns the broker's answer to CONNECT."""
    scheme, options = ("wss", {"ssl": instance.ssl_context()}) if kind == "wss" else ("ws", {})
    url = f"{scheme}://localhost:{instance.ports[kind]}/"
    with connect(url, subprotocols=["v12.stomp"], open_timeout=TIMEOUT, **options) as ws:
        ws.send(f"CONNECT\naccept-version:1.2\nhost:localhost\nlogin:admin\npasscode:{password}\n\n\0")
        answer = ws.recv(timeout=TIMEOUT)
        return answer if isinstance(answer, str) else answer.decode()


def test_the_printed_password_logs_in_on_every_listener(instance: Instance) -> None:
    tcp = f"tcp://127.0.0.1:{instance.ports['tcp']}"
    tls = f"ssl://localhost:{instance.ports['tls']}"
    with stompbox.Stomp(tcp, user="admin", password=instance.password, timeout=TIMEOUT) as subscriber, stompbox.Stomp(
        tls, user="admin", password=instance.password, ca_file=instance.cert, timeout=TIMEOUT
    ) as publisher:
        subscriber.subscribe("/topic/chat.general")
        publisher.send("/topic/chat.general", b"over tls", receipt=True)
        frame = subscriber.read_frame(timeout=TIMEOUT)
        assert frame is not None and frame.body == b"over tls"
    for kind in ("ws", "wss"):
        assert ws_connect(instance, kind, instance.password).startswith("CONNECTED\n"), kind

    # stomp.py over TLS (OpenSSL) trusts the self-signed certificate too.
    conn = stomp.Connection12([("localhost", instance.ports["tls"])], timeout=TIMEOUT)
    conn.set_ssl([("localhost", instance.ports["tls"])], ca_certs=str(instance.cert))
    conn.connect("admin", instance.password, wait=True)
    assert conn.is_connected()
    conn.disconnect()


def test_the_console_answers_the_admin_over_https_only(instance: Instance) -> None:
    url = f"https://localhost:{instance.ports['https']}/api/broker"
    token = base64.b64encode(f"admin:{instance.password}".encode()).decode()
    request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
    with urllib.request.urlopen(request, context=instance.ssl_context(), timeout=TIMEOUT) as answer:
        overview = json.load(answer)
    assert overview["connections"] == 0
    assert overview["store"]["failed"] is None, "the instance stores messages in data/"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, context=instance.ssl_context(), timeout=TIMEOUT)
    refused.value.close()
    assert refused.value.code == 401


def test_persistent_messages_outlive_a_restart_in_data(
    instance: Instance, broker_launcher: Callable[..., Any]
) -> None:
    with stompbox.Stomp(
        f"tcp://127.0.0.1:{instance.ports['tcp']}", user="admin", password=instance.password, timeout=TIMEOUT
    ) as producer:
        producer.send("/queue/orders", b"order 1", headers={"persistent": "true"}, receipt=True)
    assert instance.broker.stop() == 0
    assert any((instance.dir / "data").iterdir()), "the store is in the instance's data/"
    again = broker_launcher(["--config", str(instance.dir / "etc" / "stompbox.toml")], listeners=6)
    with stompbox.Stomp(
        f"tcp://127.0.0.1:{again.ports()['tcp']}", user="admin", password=instance.password, timeout=TIMEOUT
    ) as consumer:
        consumer.subscribe("/queue/orders")
        frame = consumer.read_frame(timeout=TIMEOUT)
        assert frame is not None and frame.body == b"order 1"


def test_the_chat_page_joins_over_wss_with_the_instance_certificate(instance: Instance) -> None:
    """The chat page from the https listener, in Chromium trusting the created certificate: it
    asks for a login (the instance has no anonymous access), joins over wss, and what it says
    reaches a STOMP subscriber."""
    with stompbox.Stomp(
        f"tcp://127.0.0.1:{instance.ports['tcp']}", user="admin", password=instance.password, timeout=TIMEOUT
    ) as listener, chromium(trusted_cert=instance.cert.read_bytes()) as page:
        listener.subscribe("/topic/chat.general.demo")
        join_chat(page, f"https://localhost:{instance.ports['https']}/chat/?nick=erin")
        wait_for_state(page, "error")
        page.find_element(By.ID, "login").send_keys("admin")
        page.find_element(By.ID, "passcode").send_keys(instance.password)
        page.find_element(By.ID, "join-button").click()
        wait_for_state(page, "connected")
        say(page, "over wss")
        frame = listener.read_frame(timeout=TIMEOUT)
        assert frame is not None and b"over wss" in frame.body, frame


def test_a_wrong_password_is_refused(instance: Instance) -> None:
    with pytest.raises(stompbox.AuthenticationError) as refused:
        stompbox.Stomp(
            f"ssl://localhost:{instance.ports['tls']}",
            user="admin",
            password="password",  # Apollo's default, never ours
            ca_file=instance.cert,
            timeout=TIMEOUT,
        )
    assert refused.value.frame.header("code") == "authentication-failed"
    answer = ws_connect(instance, "wss", instance.password + "x")
    assert answer.startswith("ERROR\n") and "\ncode:authentication-failed\n" in answer, answer


def test_an_existing_instance_is_refused_and_left_alone(tmp_path: Path, broker_binary: Path) -> None:
    first = create(broker_binary, tmp_path / "one")
    assert first.returncode == 0, first.stderr
    users = (tmp_path / "one" / "etc" / "users.properties").read_text()
    again = create(broker_binary, tmp_path / "one")
    assert again.returncode == 1
    assert "exists and is not empty" in again.stderr
    assert (tmp_path / "one" / "etc" / "users.properties").read_text() == users
    second = create(broker_binary, tmp_path / "two")
    assert PASSWORD.search(first.stdout)[1] != PASSWORD.search(second.stdout)[1], "a password per instance"  # type: ignore[index]


def test_bind_sets_every_listener_address(tmp_path: Path, broker_binary: Path) -> None:
    made = create(broker_binary, tmp_path / "public", "--bind", "0.0.0.0")
    assert made.returncode == 0, made.stderr
    text = (tmp_path / "public" / "etc" / "stompbox.toml").read_text()
    assert re.findall(r'^address = "(.*)"$', text, re.MULTILINE) == [
        "0.0.0.0:61613",
        "0.0.0.0:61614",
        "0.0.0.0:61623",
        "0.0.0.0:61624",
        "0.0.0.0:61680",
        "0.0.0.0:61681",
    ]
    unit = (tmp_path / "public" / "etc" / "stompbox.service").read_text()
    assert f'run --config "{tmp_path / "public" / "etc" / "stompbox.toml"}"' in unit
