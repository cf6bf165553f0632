"""Blocking calls release the GIL, and Ctrl-C interrupts a long read_frame."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

import stompbox


def test_another_thread_progresses_while_read_frame_blocks(broker_url: str, queue: str) -> None:
    with stompbox.Stomp(broker_url, timeout=5) as c:
        c.subscribe(queue)
        counted = 0
        done = threading.Event()

        def count() -> None:
            nonlocal counted
            while not done.is_set():
                counted += 1  # pure-Python work: needs the GIL

        worker = threading.Thread(target=count)
        worker.start()
        try:
            started = time.monotonic()
            assert c.read_frame(timeout=0.5) is None
            blocked = time.monotonic() - started
        finally:
            done.set()
            worker.join()
        assert blocked >= 0.5
        # With the GIL held for 0.5 s the counter would barely move (a few switch intervals).
        assert counted > 100_000, counted


def test_a_second_thread_can_publish_while_one_reads(broker_url: str, queue: str) -> None:
    with stompbox.Stomp(broker_url, timeout=5) as c:
        c.subscribe(queue)
        publisher = threading.Thread(target=lambda: c.send(queue, b"from thread"))
        result: list[object] = []
        reader = threading.Thread(target=lambda: result.append(c.read_frame(timeout=5)))
        reader.start()
        publisher.start()
        publisher.join(5)
        reader.join(10)
        frame = result[0]
        assert isinstance(frame, stompbox.Frame) and frame.body == b"from thread"


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs pthread_kill")
def test_ctrl_c_interrupts_a_long_read_frame(broker_url: str, queue: str) -> None:
    with stompbox.Stomp(broker_url, timeout=5) as c:
        c.subscribe(queue)
        main = threading.get_ident()
        timer = threading.Timer(0.3, lambda: signal.pthread_kill(main, signal.SIGINT))
        timer.start()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            c.read_frame(timeout=30)
        timer.join()
        assert time.monotonic() - started < 5
    assert os.getpid()
