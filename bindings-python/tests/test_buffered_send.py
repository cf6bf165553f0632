"""Buffered sends: frames sent without a receipt wait in a bounded buffer that a background
writer thread writes as soon as the socket takes it.

Where a test needs the writer to be stuck, the client connects through `GatedProxy`, a loopback
proxy in this process that stops reading from the client while its gate is closed. Its receive
buffer is small, so a few megabytes fill the kernel's buffers and the writer blocks in `write`
until the gate opens: whatever is sent meanwhile is queued, deterministically. Writes are
counted with Linux's per-thread `syscw` (/proc/self/task/TID/io).
"""

from __future__ import annotations

import gc
import multiprocessing
import socket
import struct
import threading
import time
import warnings
from pathlib import Path
from typing import Iterator

import pytest

import stompbox

TIMEOUT = 10.0
WRITER = "stompbox-writer"
CHUNK = 64 * 1024  # what the proxy reads at once, and its receive buffer
MIB = 1024 * 1024


class GatedProxy:
    """Forwards one client connection to `target`; client-to-broker bytes only while open."""

    def __init__(self, target: str) -> None:
        host, port = target.removeprefix("tcp://").rsplit(":", 1)
        self.target = (host, int(port))
        self.listener = socket.socket()
        # Inherited by the accepted socket: a fixed, small window instead of autotuning.
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CHUNK)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.gate = threading.Event()
        self.gate.set()
        self.sockets: list[socket.socket] = []
        self.threads = [threading.Thread(target=self._serve, daemon=True)]
        self.threads[0].start()

    @property
    def url(self) -> str:
        return "tcp://%s:%d" % self.listener.getsockname()

    def _serve(self) -> None:
        client, _ = self.listener.accept()
        broker = socket.create_connection(self.target)
        self.sockets += [client, broker]
        back = threading.Thread(target=self._pump, args=(broker, client, None), daemon=True)
        back.start()
        self.threads.append(back)
        self._pump(client, broker, self.gate)

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, gate: threading.Event | None) -> None:
        try:
            while True:
                if gate is not None:
                    gate.wait()
                data = src.recv(CHUNK)
                if not data:
                    break
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def reset(self) -> None:
        """Closes both connections with a TCP reset."""
        for s in self.sockets:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close()

    def close(self) -> None:
        self.gate.set()
        for s in [self.listener, *self.sockets]:
            s.close()


@pytest.fixture
def proxy(broker_url: str) -> Iterator[GatedProxy]:
    p = GatedProxy(broker_url)
    yield p
    p.close()


def writer_threads() -> set[int]:
    """The native ids of this process's stompbox writer threads."""
    found = set()
    for comm in Path("/proc/self/task").glob("*/comm"):
        try:
            if comm.read_text().strip() == WRITER:
                found.add(int(comm.parent.name))
        except OSError:
            pass  # the thread ended meanwhile
    return found


def new_writer_thread(before: set[int]) -> int:
    """The writer thread started since `before` was taken. A new thread names itself once it
    runs, so this waits (up to TIMEOUT) for the name to show."""
    deadline = time.monotonic() + TIMEOUT
    while not (new := writer_threads() - before):
        assert time.monotonic() < deadline, "no writer thread started"
        time.sleep(0.001)
    (tid,) = new
    return tid


def write_calls(tid: int) -> int:
    """How many write system calls thread `tid` of this process has made."""
    for line in Path(f"/proc/self/task/{tid}/io").read_text().splitlines():
        if line.startswith("syscw:"):
            return int(line.split()[1])
    raise AssertionError("no syscw in /proc/self/task/TID/io")


def kernel_buffers() -> int:
    """An upper bound of what can leave the client while the gate is closed: the client's send
    buffer (at most tcp_wmem's maximum), the proxy's receive buffer (set to CHUNK, which the
    kernel doubles) and one read the proxy may have started before the gate closed."""
    wmem_max = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    return wmem_max + 3 * CHUNK


def fill_kernel_buffers(conn: stompbox.Stomp, destination: str) -> None:
    """Sends more than the kernel can hold, in 1 MiB frames (the broker takes bodies up to
    4 MiB): with the gate closed, the writer is then stuck in a write."""
    for _ in range(kernel_buffers() // MIB + 2):
        conn.send(destination, b"x" * MIB)


def test_a_lone_send_arrives_without_a_flush(broker_url: str, queue: str) -> None:
    with stompbox.Stomp(broker_url, timeout=TIMEOUT) as consumer, stompbox.Stomp(broker_url) as producer:
        consumer.subscribe(queue)
        producer.send(queue, b"alone")
        # The producer makes no other call: only its writer thread can have sent the frame.
        frame = consumer.read_frame(timeout=TIMEOUT)
        assert frame is not None and frame.body == b"alone"


def test_a_burst_queued_behind_a_blocked_write_goes_out_in_one_write(
    proxy: GatedProxy, broker_url: str, queue: str
) -> None:
    burst = 2000
    before = writer_threads()
    with stompbox.Stomp(proxy.url, timeout=TIMEOUT, write_buffer_bytes=64 * MIB) as producer:
        producer.send(queue, b"start")
        writer = new_writer_thread(before)
        producer.flush()
        caller = threading.get_native_id()
        proxy.gate.clear()
        fill_kernel_buffers(producer, queue)
        before = write_calls(writer) + write_calls(caller)
        for n in range(burst):
            producer.send(queue, str(n))
        proxy.gate.set()
        producer.flush()
        writes = write_calls(writer) + write_calls(caller) - before
        # Everything queued while a write is stuck goes in the next write. After the large
        # frames were queued: the write they are stuck in, then one with the rest, or two if
        # the first frames of the burst went along with the large ones.
        assert writes <= 3, f"{burst} frames took {writes} writes"
    with stompbox.Stomp(broker_url, timeout=TIMEOUT) as consumer:
        consumer.subscribe(queue)
        frames = [consumer.read_frame(timeout=TIMEOUT) for _ in range(kernel_buffers() // MIB + 3 + burst)]
    bodies = [f.body for f in frames if f is not None]
    assert bodies[-burst:] == [str(n).encode() for n in range(burst)]


def test_a_full_buffer_blocks_the_sender_and_releases_the_gil(proxy: GatedProxy, broker_url: str, queue: str) -> None:
    frame_size = CHUNK
    limit = 4 * CHUNK
    count = (kernel_buffers() + limit) // frame_size + 16  # more than the kernel and the buffer hold
    body = b"y" * frame_size
    sent = 0
    failure: list[BaseException] = []

    with stompbox.Stomp(proxy.url, timeout=TIMEOUT, write_buffer_bytes=limit) as producer:

        def send_all() -> None:
            nonlocal sent
            try:
                for _ in range(count):
                    producer.send(queue, body)
                    sent += 1
            except BaseException as err:  # reported by the main thread
                failure.append(err)

        proxy.gate.clear()
        sender = threading.Thread(target=send_all)
        sender.start()
        # The sender cannot finish while the gate is closed; this thread keeps running Python
        # meanwhile, so the blocked send does not hold the GIL.
        sender.join(timeout=0.5)
        assert sender.is_alive(), "every send returned while nothing could be written"
        held = sent
        proxy.gate.set()
        sender.join(TIMEOUT)
        assert not sender.is_alive() and not failure, failure
        assert sent == count
        # Bounded: what returned before the gate opened fits in the kernel's buffers, the
        # write buffer and the frame being written.
        assert held * frame_size <= kernel_buffers() + limit + 2 * frame_size
        producer.send(queue, b"last", receipt=True)
    assert count * frame_size > kernel_buffers() + limit


def test_a_failed_background_write_is_raised_by_the_next_call(proxy: GatedProxy) -> None:
    producer = stompbox.Stomp(proxy.url, timeout=0.3, write_buffer_bytes=64 * MIB)
    producer.send("/topic/stuck", b"start")
    producer.flush()
    proxy.gate.clear()
    fill_kernel_buffers(producer, "/topic/stuck")  # queued: the writer's write times out
    with pytest.raises(stompbox.StompTimeoutError, match="write timed out"):
        producer.flush()
    assert producer.closed
    with pytest.raises(stompbox.StompConnectionError):
        producer.send("/topic/stuck", b"after")


def test_a_broken_connection_is_not_lost_silently(proxy: GatedProxy) -> None:
    producer = stompbox.Stomp(proxy.url, timeout=TIMEOUT)
    producer.send("/topic/broken", b"before")
    producer.flush()
    proxy.reset()
    producer.send("/topic/broken", b"after")
    with pytest.raises(stompbox.StompConnectionError):
        producer.close()


@pytest.mark.parametrize("ending", ["close", "exit", "garbage collection"])
def test_nothing_queued_is_lost_when_the_connection_ends(broker_url: str, queue: str, ending: str) -> None:
    count = 5000
    with stompbox.Stomp(broker_url, timeout=TIMEOUT) as consumer:
        consumer.subscribe(queue)
        producer = stompbox.Stomp(broker_url, timeout=TIMEOUT)
        for n in range(count):
            producer.send(queue, str(n))
        if ending == "close":
            producer.close()
        elif ending == "exit":
            producer.__exit__(None, None, None)
        else:
            del producer
            gc.collect()
        bodies = [consumer.read_frame(timeout=TIMEOUT) for _ in range(count)]
    assert [f.body for f in bodies if f is not None] == [str(n).encode() for n in range(count)]


def test_the_writer_thread_starts_with_the_first_send_and_stops_at_close(broker_url: str, queue: str) -> None:
    before = writer_threads()
    with stompbox.Stomp(broker_url, timeout=TIMEOUT) as conn:
        conn.subscribe(queue)  # with a receipt: written by this thread
        conn.send(queue, b"with a receipt", receipt=True)
        assert writer_threads() == before
        conn.send(queue, b"without")
        new_writer_thread(before)
    assert writer_threads() == before


def test_batch_is_kept_and_flushes_on_exit(broker_url: str, queue: str) -> None:
    with stompbox.Stomp(broker_url, timeout=TIMEOUT) as consumer, stompbox.Stomp(broker_url) as producer:
        consumer.subscribe(queue)
        with producer.batch() as same:
            assert same is producer
            for n in range(100):
                producer.send(queue, str(n))
        bodies = [consumer.read_frame(timeout=TIMEOUT) for _ in range(100)]
        assert [f.body for f in bodies if f is not None] == [str(n).encode() for n in range(100)]


def test_unbuffered_connections_write_on_the_calling_thread(broker_url: str, queue: str) -> None:
    before = writer_threads()
    with stompbox.Stomp(broker_url, timeout=TIMEOUT) as consumer, stompbox.Stomp(
        broker_url, write_buffer_bytes=0
    ) as producer:
        consumer.subscribe(queue)
        producer.send(queue, b"direct")
        assert writer_threads() == before
        frame = consumer.read_frame(timeout=TIMEOUT)
        assert frame is not None and frame.body == b"direct"


def _use_inherited(conn: stompbox.Stomp, queue: str) -> None:
    """In a forked child: the parent's connection refuses to be used, and dropping it is safe."""
    conn.send(queue, b"from the child")  # only queued
    try:
        conn.read_frame(timeout=0)
    except stompbox.StompConnectionError as err:
        assert "fork" in str(err), err
    else:
        raise AssertionError("the child read from its parent's connection")
    del conn
    gc.collect()


def test_a_forked_child_leaves_the_parents_connection_alone(broker_url: str, queue: str) -> None:
    with stompbox.Stomp(broker_url, timeout=TIMEOUT) as consumer, stompbox.Stomp(broker_url) as producer:
        consumer.subscribe(queue)
        producer.send(queue, b"before")  # the writer thread runs
        child = multiprocessing.get_context("fork").Process(target=_use_inherited, args=(producer, queue))
        with warnings.catch_warnings():
            # Python 3.12+ warns about fork() in a process with threads: that is the point here.
            warnings.simplefilter("ignore", DeprecationWarning)
            child.start()
        child.join(TIMEOUT)
        assert child.exitcode == 0
        producer.send(queue, b"after", receipt=True)
        bodies = [consumer.read_frame(timeout=TIMEOUT) for _ in range(2)]
        assert [f.body for f in bodies if f is not None] == [b"before", b"after"]
        assert not consumer.has_frame(timeout=0.2)
