"""stomp.py and stompbox.Stomp talk to each other through the broker."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import stompbox

stomp = pytest.importorskip("stomp")


def _host_port(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("tcp://").rsplit(":", 1)
    return host, int(port)


class _Collector(stomp.ConnectionListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.bodies: list[Any] = []
        self.got = threading.Event()

    def on_message(self, frame: Any) -> None:
        self.bodies.append(frame.body)
        self.got.set()


def test_stomp_py_publishes_and_stompbox_receives(broker_url: str, queue: str) -> None:
    with stompbox.Stomp(broker_url, timeout=5) as receiver:
        receiver.subscribe(queue)
        other = stomp.Connection12([_host_port(broker_url)])
        other.connect(wait=True)
        try:
            other.send(queue, "from stomp.py", headers={"x-from": "stomp.py"}, receipt="r-1")
            frame = receiver.read_frame(timeout=5)
        finally:
            other.disconnect()
    assert frame is not None
    assert frame.body == b"from stomp.py"
    assert frame.headers["x-from"] == "stomp.py"


def test_stompbox_publishes_and_stomp_py_receives(broker_url: str, queue: str) -> None:
    other = stomp.Connection12([_host_port(broker_url)])
    listener = _Collector()
    other.set_listener("collector", listener)
    other.connect(wait=True)
    try:
        # A receipt makes the subscription registered before we publish.
        receipt = threading.Event()
        listener.on_receipt = lambda frame: receipt.set()  # type: ignore[method-assign]
        other.subscribe(queue, id="s1", headers={"receipt": "sub-r"})
        assert receipt.wait(5)
        with stompbox.Stomp(broker_url, timeout=5) as sender:
            sender.send(queue, b"from stompbox", receipt=True)
        assert listener.got.wait(5)
    finally:
        other.disconnect()
    assert listener.bodies == ["from stompbox"]
