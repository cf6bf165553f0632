"""A subscriber that never reads while a producer floods its topic, against the real binary:
the other subscriber keeps receiving everything, the slow one is handled by the configured
policy, and the broker's memory stays bounded."""

from __future__ import annotations

import socket
import threading
import time

import pytest

MESSAGES = 20_000
BODY = b"x" * 4096  # 20,000 x 4 KiB = 80 MiB through the broker
BATCH = 500
# What the broker may use at its peak while 80 MiB flow through it: the slow subscriber's
# outbox is capped at delivery.outbox_max_bytes (8 MiB by default), plus socket buffers.
RSS_BOUND = 64 * 1024 * 1024
TIMEOUT = 20.0


def open_session(broker, *frames: bytes, rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(TIMEOUT)
    sock.connect((broker.host, broker.port))
    sock.sendall(b"CONNECT\naccept-version:1.2\nhost:localhost\n\n\0" + b"".join(frames))
    return sock


def read_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before {marker!r}: {data[-200:]!r}"
        data += chunk
    return data


def close_all(*socks: socket.socket) -> None:
    for sock in socks:
        sock.close()


class Counter(threading.Thread):
    """Reads MESSAGE frames off a socket as fast as it can and counts them."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.count = 0
        self.changed = threading.Condition()

    def run(self) -> None:
        while True:
            try:
                chunk = self.sock.recv(1 << 20)
            except OSError:
                return
            if not chunk:
                return
            with self.changed:
                self.count += chunk.count(b"MESSAGE\n")
                self.changed.notify_all()

    def wait_for(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.count >= count, TIMEOUT), (self.count, count)


def flood(broker, slow_policy_log: str | None):
    subscribe = b"SUBSCRIBE\nid:s\ndestination:/topic/flood\nreceipt:subscribed\n\n\0"
    slow = open_session(broker, subscribe, rcvbuf=4096)
    read_until(slow, b"receipt-id:subscribed")
    fast_sock = open_session(broker, subscribe)
    read_until(fast_sock, b"receipt-id:subscribed")
    fast = Counter(fast_sock)
    fast.start()

    publisher = open_session(broker)
    frame = b"SEND\ndestination:/topic/flood\ncontent-length:%d\n\n%s\0" % (len(BODY), BODY)
    peak_rss = 0
    for sent in range(BATCH, MESSAGES + 1, BATCH):
        publisher.sendall(frame * BATCH)
        fast.wait_for(sent)
        peak_rss = max(peak_rss, broker.rss_bytes())
    print(f"peak broker RSS {peak_rss / 2**20:.1f} MiB")
    return slow, fast, publisher, peak_rss


def test_slow_subscriber_is_disconnected_and_memory_stays_bounded(broker):
    slow, fast, publisher, peak_rss = flood(broker, "slow consumer")
    assert fast.count == MESSAGES
    assert peak_rss < RSS_BOUND, f"broker RSS peaked at {peak_rss / 2**20:.1f} MiB"
    # The slow subscriber was cut off: draining its socket ends in EOF, not in a hang.
    slow.settimeout(TIMEOUT)
    received = b""
    while chunk := slow.recv(1 << 20):
        received += chunk
    assert received.count(b"MESSAGE\n") < MESSAGES
    deadline = time.monotonic() + TIMEOUT
    while not any("slow consumer" in line for line in broker.log):
        assert time.monotonic() < deadline, "".join(broker.log[-20:])
        time.sleep(0.05)
    # The publisher was never held back and is still connected.
    publisher.sendall(b"SEND\ndestination:/topic/flood\nreceipt:still-here\n\nok\0")
    read_until(publisher, b"receipt-id:still-here")
    close_all(slow, fast.sock, publisher)


@pytest.mark.timeout(120)
def test_drop_oldest_keeps_the_slow_subscriber_connected(broker_factory):
    broker = broker_factory('[delivery]\nslow_consumer = "drop-oldest"\n')
    slow, fast, publisher, peak_rss = flood(broker, None)
    assert fast.count == MESSAGES
    assert peak_rss < RSS_BOUND, f"broker RSS peaked at {peak_rss / 2**20:.1f} MiB"
    # Still connected: a receipt comes back after whatever messages survived.
    slow.sendall(b"SEND\ndestination:/topic/other\nreceipt:alive\n\n\0")
    received = read_until(slow, b"receipt-id:alive")
    assert 0 < received.count(b"MESSAGE\n") < MESSAGES
    close_all(slow, fast.sock, publisher)


class OrderedReader(threading.Thread):
    """Reads MESSAGE frames as fast as a Python program can, checking their `seq` headers
    arrive as 0, 1, 2, ... (frames are split by their content-length)."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.next_seq = 0
        self.error: str | None = None
        self.done = threading.Event()

    def run(self) -> None:
        buffer = b""
        try:
            while True:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    self.error = f"connection closed after {self.next_seq} messages"
                    return
                buffer += chunk
                buffer = self.consume(buffer)
                if self.done.is_set():
                    return
        except OSError as err:
            self.error = f"{err} after {self.next_seq} messages"

    def consume(self, buffer: bytes) -> bytes:
        while True:
            buffer = buffer.lstrip(b"\n")
            head_end = buffer.find(b"\n\n")
            if head_end < 0:
                return buffer
            head = buffer[:head_end].decode()
            length = int(next(line for line in head.split("\n") if line.startswith("content-length:")).split(":")[1])
            end = head_end + 2 + length + 1
            if len(buffer) < end:
                return buffer
            if head.startswith("MESSAGE\n"):
                seq = int(next(line for line in head.split("\n") if line.startswith("seq:")).split(":")[1])
                if seq != self.next_seq:
                    self.error = f"message {seq} came when {self.next_seq} was due"
                    self.done.set()
                    return b""
                self.next_seq += 1
                if self.next_seq == BURST_MESSAGES:
                    self.done.set()
            buffer = buffer[end:]


BURST_MESSAGES = 6144
BURST_BODY = b"y" * (16 * 1024)  # 6,144 x 16 KiB = 96 MiB as fast as the socket takes it


@pytest.mark.timeout(180)
def test_a_burst_never_cuts_off_a_subscriber_that_keeps_reading(broker):
    """The producer writes 96 MiB without waiting; one subscriber reads as fast as Python can,
    another never reads. The reader gets every message in order, the stuck one is cut off, and
    the broker's memory stays bounded."""
    subscribe = b"SUBSCRIBE\nid:s\ndestination:/topic/burst\nreceipt:subscribed\n\n\0"
    stuck = open_session(broker, subscribe, rcvbuf=4096)
    read_until(stuck, b"receipt-id:subscribed")
    reading = open_session(broker, subscribe)
    read_until(reading, b"receipt-id:subscribed")
    reader = OrderedReader(reading)
    reader.start()
    publisher = open_session(broker)
    frames = b"".join(
        b"SEND\ndestination:/topic/burst\nseq:%d\ncontent-length:%d\n\n%s\0" % (i, len(BURST_BODY), BURST_BODY)
        for i in range(BURST_MESSAGES)
    )
    writer = threading.Thread(target=publisher.sendall, args=(frames,), daemon=True)
    writer.start()
    peak_rss = 0
    while reader.is_alive():
        peak_rss = max(peak_rss, broker.rss_bytes())
        reader.join(0.05)
    assert reader.error is None, reader.error
    assert reader.next_seq == BURST_MESSAGES
    writer.join(TIMEOUT)
    print(f"peak broker RSS {peak_rss / 2**20:.1f} MiB for 96 MiB sent")
    assert peak_rss < RSS_BOUND, f"broker RSS peaked at {peak_rss / 2**20:.1f} MiB"
    deadline = time.monotonic() + TIMEOUT
    while not any("slow consumer" in line for line in broker.log):
        assert time.monotonic() < deadline, "".join(broker.log[-20:])
        time.sleep(0.05)
    assert not any("slow consumer" in line and "reading" in line for line in broker.log)
    close_all(stuck, reading, publisher)
