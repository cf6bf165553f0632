"""Persistence against the real binary: SIGKILL while producers send persistent messages with
receipts and consumers acknowledge them, at several kill points, then a restart on the same data
directory. Every message whose RECEIPT arrived must be delivered after the restart unless it was
acknowledged (an ACK sent may or may not have been stored when the broker died); none whose ACK's
RECEIPT arrived may come back; every repeat is marked redelivered."""

from __future__ import annotations

import re
import socket
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

# The root conftest's RunningBroker: `host`, `port`, `log` and `process` are used here.
RunningBroker = Any


class Stomp:
    """A raw STOMP 1.2 connection: frames in, frames out, nothing hidden."""

    def __init__(self, broker: RunningBroker) -> None:
        self.sock = socket.create_connection((broker.host, broker.port), timeout=10)
        self.buffer = b""
        self.send_frame("CONNECT", {"accept-version": "1.2", "host": "localhost"})
        command, _, _ = self.read_frame()
        assert command == "CONNECTED"

    def send_frame(self, command: str, headers: dict[str, str], body: str = "") -> None:
        self.sock.sendall(self.encode(command, headers, body))

    @staticmethod
    def encode(command: str, headers: dict[str, str], body: str = "") -> bytes:
        lines = "".join(f"{name}:{value}\n" for name, value in headers.items())
        return f"{command}\n{lines}\n{body}\0".encode()

    def read_frame(self) -> tuple[str, dict[str, str], str]:
        """The next frame; raises ConnectionError once the broker is gone."""
        while True:
            self.buffer = self.buffer.lstrip(b"\r\n")
            head_end = self.buffer.find(b"\n\n")
            if head_end >= 0:
                head = self.buffer[:head_end].decode().split("\n")
                headers: dict[str, str] = {}
                for line in head[1:]:
                    name, _, value = line.partition(":")
                    headers.setdefault(name, value)
                start = head_end + 2
                length = int(headers.get("content-length", "-1"))
                end = start + length if length >= 0 else self.buffer.find(b"\0", start)
                if end >= 0 and len(self.buffer) > end:
                    body = self.buffer[start:end].decode()
                    self.buffer = self.buffer[end + 1 :]
                    return head[0], headers, body
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk

    def close(self) -> None:
        self.sock.close()


@dataclass
class Ledger:
    """What the clients know for certain, shared by their threads."""

    lock: threading.Condition = field(default_factory=threading.Condition)
    receipted: set[str] = field(default_factory=set)
    ack_sent: set[str] = field(default_factory=set)
    acked: set[str] = field(default_factory=set)

    def add(self, into: set[str], items: list[str]) -> None:
        with self.lock:
            into.update(items)
            self.lock.notify_all()


def produce(broker: RunningBroker, name: str, ledger: Ledger, stop: threading.Event) -> None:
    """Sends persistent messages in bursts of 20, each with a receipt; records the receipted."""
    client = Stomp(broker)
    try:
        n = 0
        while not stop.is_set():
            burst = [f"{name}-{n + i}" for i in range(20)]
            n += len(burst)
            client.sock.sendall(
                b"".join(
                    Stomp.encode("SEND", {"destination": "/queue/crash", "persistent": "true", "receipt": body}, body)
                    for body in burst
                )
            )
            confirmed = []
            while len(confirmed) < len(burst):
                command, headers, _ = client.read_frame()
                assert command == "RECEIPT", (command, headers)
                confirmed.append(headers["receipt-id"])
            ledger.add(ledger.receipted, confirmed)
    except OSError:
        return
    finally:
        client.close()


def consume(broker: RunningBroker, ledger: Ledger, stop: threading.Event) -> None:
    """Acknowledges every message with a receipt; records the ACKs sent and those receipted."""
    client = Stomp(broker)
    try:
        client.send_frame(
            "SUBSCRIBE",
            {"id": "0", "destination": "/queue/crash", "ack": "client-individual", "prefetch-count": "50"},
        )
        pending: dict[str, str] = {}
        while not stop.is_set():
            command, headers, body = client.read_frame()
            if command == "MESSAGE":
                pending[headers["ack"]] = body
                ledger.add(ledger.ack_sent, [body])
                client.send_frame("ACK", {"id": headers["ack"], "receipt": headers["ack"]})
            elif command == "RECEIPT":
                ledger.add(ledger.acked, [pending.pop(headers["receipt-id"])])
    except OSError:
        return
    finally:
        client.close()


def drain(broker: RunningBroker) -> list[tuple[str, dict[str, str]]]:
    """Every message the queue holds: as many as the broker said it restored at start."""
    opened = next(line for line in broker.log if "message store opened" in line)
    restored = int(re.search(r"messages=(\d+)", opened).group(1))
    client = Stomp(broker)
    client.send_frame(
        "SUBSCRIBE", {"id": "0", "destination": "/queue/crash", "ack": "client-individual", "prefetch-count": "10000"}
    )
    messages = []
    while len(messages) < restored:
        command, headers, body = client.read_frame()
        assert command == "MESSAGE", (command, headers)
        messages.append((body, headers))
    client.close()
    return messages


@pytest.mark.parametrize("kill_after", [200, 1000, 3000])
def test_sigkill_loses_no_receipted_message_and_revives_no_acknowledged_one(
    kill_after: int, broker_factory: Callable[..., RunningBroker]
) -> None:
    with tempfile.TemporaryDirectory() as data:
        broker = broker_factory("", "--data-dir", data)
        ledger, stop = Ledger(), threading.Event()
        workers = [threading.Thread(target=produce, args=(broker, f"p{i}", ledger, stop)) for i in range(3)]
        workers += [threading.Thread(target=consume, args=(broker, ledger, stop)) for _ in range(2)]
        for worker in workers:
            worker.start()

        def killing_point() -> bool:
            """Enough receipted, and some acknowledgements confirmed."""
            return len(ledger.receipted) >= kill_after and bool(ledger.acked)

        with ledger.lock:
            assert ledger.lock.wait_for(killing_point, timeout=60), "producers or consumers stalled"
        broker.process.kill()
        broker.process.wait(timeout=15)
        stop.set()
        for worker in workers:
            worker.join(timeout=15)
        receipted, ack_sent, acked = set(ledger.receipted), set(ledger.ack_sent), set(ledger.acked)
        assert acked, "consumers acknowledged some before the kill"

        restarted = broker_factory("", "--data-dir", data)
        try:
            messages = drain(restarted)
        finally:
            assert restarted.stop() == 0
        bodies = [body for body, _ in messages]
        assert len(bodies) == len(set(bodies)), "no message twice"
        assert not set(bodies) & acked, "none whose ACK was receipted came back"
        missing = receipted - ack_sent - set(bodies)
        assert not missing, f"{len(missing)} receipted messages lost, e.g. {sorted(missing)[:5]}"
        assert all(headers.get("redelivered") == "true" for _, headers in messages), "restored ones are marked"


def test_persistence_is_off_without_a_data_dir_and_says_so(broker: RunningBroker) -> None:
    assert any("persistence is off" in line for line in broker.log), "".join(broker.log)
