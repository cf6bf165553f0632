"""The real binary's tls, ws and wss listeners with clients outside Rust: Python's `websockets`
(with `ssl` for wss) and stomp.py over TLS. The certificate comes from a CA made per test run
(`trustme`), which the clients trust."""

from __future__ import annotations

import queue
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import stomp
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

TIMEOUT = 5.0
CONNECT = "CONNECT\naccept-version:1.2\nhost:localhost\n\n\0"


@dataclass
class Listeners:
    """A broker serving tls, ws and wss listeners, and the CA its certificate chains to."""

    broker: Any  # conftest's RunningBroker
    ports: dict[str, int]
    tls: Any  # conftest's TlsFiles

    @property
    def ca_file(self) -> Path:
        return self.tls.ca_file

    def ssl_context(self) -> ssl.SSLContext:
        return self.tls.ssl_context()


@pytest.fixture(name="listeners")
def listeners_fixture(
    tmp_path: Path, broker_launcher: Callable[..., Any], tls_files: Callable[..., Any]
) -> Iterator[Listeners]:
    tls = tls_files(tmp_path, "localhost", "127.0.0.1")
    # Relative certificate paths: relative to the configuration file.
    (tmp_path / "stompbox.toml").write_text(
        "".join(
            f'[[listener]]\nkind = "{kind}"\naddress = "127.0.0.1:0"\n{extra}'
            for kind, extra in [
                ("tls", 'cert = "cert.pem"\nkey = "key.pem"\n'),
                ("ws", 'path = "/stomp"\nallowed_origins = ["https://chat.example"]\n'),
                ("wss", 'cert = "cert.pem"\nkey = "key.pem"\n'),
            ]
        )
    )
    broker = broker_launcher(["--config", str(tmp_path / "stompbox.toml")], listeners=3)
    yield Listeners(broker, broker.ports(), tls)
    assert broker.stop() == 0, "".join(broker.log)


def frame(ws: ClientConnection) -> str:
    """The next frame, skipping heart-beat messages; each frame is one whole message."""
    while True:
        message = ws.recv(timeout=TIMEOUT)
        text = message if isinstance(message, str) else message.decode()
        if text != "\n":
            assert text.endswith("\0"), repr(text)
            return text


@contextmanager
def session(listeners: Listeners, kind: str, **kwargs) -> Iterator[ClientConnection]:
    """A STOMP session over the `ws` or `wss` listener."""
    scheme, path = ("wss", "/") if kind == "wss" else ("ws", "/stomp")
    if kind == "wss":
        kwargs["ssl"] = listeners.ssl_context()
    with connect(f"{scheme}://localhost:{listeners.ports[kind]}{path}", open_timeout=TIMEOUT, **kwargs) as ws:
        ws.send(CONNECT)
        assert frame(ws).startswith("CONNECTED\n")
        yield ws


@pytest.mark.parametrize("kind", ["ws", "wss"])
def test_websockets_client_subscribes_and_receives(listeners: Listeners, kind: str) -> None:
    with session(listeners, kind, subprotocols=["v12.stomp"]) as ws:
        assert ws.subprotocol == "v12.stomp"
        # Two frames in one message, then one frame in three messages.
        ws.send("SUBSCRIBE\ndestination:/topic/room\nid:0\nreceipt:sub\n\n\0SEND\ndestination:/topic/room\n\nhello\0")
        assert frame(ws).startswith("RECEIPT\nreceipt-id:sub\n")
        message = frame(ws)
        assert message.startswith("MESSAGE\n") and message.endswith("\n\nhello\0"), repr(message)
        for part in [b"SEND\ndestination:/to", b"pic/room\ncontent-length:4\n\na\0b", b"c\0"]:
            ws.send(part)
        raw = ws.recv(timeout=TIMEOUT)
        assert isinstance(raw, bytes), "a body with a NUL comes as a binary message"
        assert raw.endswith(b"\n\na\0bc\0"), raw


@pytest.mark.parametrize("offered", [["v12.stomp"], ["v11.stomp"], ["v10.stomp"], ["stomp"], None])
def test_each_subprotocol(listeners: Listeners, offered: list[str] | None) -> None:
    with session(listeners, "ws", subprotocols=offered) as ws:
        assert ws.subprotocol == (offered[0] if offered else None)


def test_a_foreign_origin_and_a_wrong_path_get_an_http_error(listeners: Listeners) -> None:
    port = listeners.ports["ws"]
    with pytest.raises(InvalidStatus) as refused:
        with connect(f"ws://127.0.0.1:{port}/stomp", origin="https://evil.example", open_timeout=TIMEOUT):
            pass
    assert refused.value.response.status_code == 403
    assert refused.value.response.body == b"origin not allowed\n"
    with pytest.raises(InvalidStatus) as refused:
        with connect(f"ws://127.0.0.1:{port}/elsewhere", open_timeout=TIMEOUT):
            pass
    assert refused.value.response.status_code == 404
    with connect(f"ws://127.0.0.1:{port}/stomp", origin="https://chat.example", open_timeout=TIMEOUT) as ws:
        ws.send(CONNECT)
        assert frame(ws).startswith("CONNECTED\n")


class Inbox(stomp.ConnectionListener):
    def __init__(self) -> None:
        self.bodies: queue.Queue[str] = queue.Queue()

    def on_message(self, frame) -> None:
        self.bodies.put(frame.body)


def test_stomppy_over_tls_meets_a_websocket_subscriber(listeners: Listeners) -> None:
    host_port = ("localhost", listeners.ports["tls"])
    connection = stomp.Connection12([host_port])
    connection.set_ssl(for_hosts=[host_port], ca_certs=str(listeners.ca_file))
    inbox = Inbox()
    connection.set_listener("inbox", inbox)
    connection.connect(wait=True)
    try:
        connection.subscribe("/topic/mixed", id="0", receipt="sub-0")
        with session(listeners, "wss") as ws:
            ws.send("SUBSCRIBE\ndestination:/topic/mixed\nid:0\nreceipt:r\n\n\0")
            assert frame(ws).startswith("RECEIPT\n")
            connection.send("/topic/mixed", "over tls", receipt="sent")
            assert frame(ws).endswith("\n\nover tls\0")
            ws.send("SEND\ndestination:/topic/mixed\n\nover wss\0")
            assert [inbox.bodies.get(timeout=TIMEOUT) for _ in range(2)] == ["over tls", "over wss"]
    finally:
        connection.disconnect()
