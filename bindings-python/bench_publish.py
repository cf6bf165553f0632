"""Publish throughput: stompbox.Stomp against stomp.py, on the same broker.

Each client publishes N messages of SIZE bytes to a topic, the last one with a receipt, and the
time runs until that RECEIPT arrives (the broker has then processed every message). A topic, not
a queue: messages piling up in a queue nobody consumes would measure the broker's memory growth
rather than the clients. The clients take turns, ROUNDS times; the best and the median run of
each are printed (on a machine shared with other work, the best run is the one least disturbed).

    python bench_publish.py                     # an embedded stompbox.Broker
    python bench_publish.py --url tcp://127.0.0.1:61613 --rounds 5
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import threading
import time
from typing import Callable

import stomp

import stompbox


def bench_stompbox(url: str, count: int, body: bytes, destination: str, batch: bool) -> float:
    """One `send` call per message; with `batch`, inside `conn.batch()` (which, since sends are
    buffered anyway, only flushes at its end; before that it was the only way to few writes)."""
    with stompbox.Stomp(url, timeout=120) as conn:
        started = time.perf_counter()
        with conn.batch() if batch else contextlib.nullcontext():
            for _ in range(count - 1):
                conn.send(destination, body)
        conn.send(destination, body, receipt=True)
        return time.perf_counter() - started


class _Receipts(stomp.ConnectionListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.seen = threading.Event()

    def on_receipt(self, frame: object) -> None:
        self.seen.set()


def bench_stomp_py(url: str, count: int, body: bytes, destination: str) -> float:
    host, port = url.removeprefix("tcp://").rsplit(":", 1)
    conn = stomp.Connection12([(host, int(port))])
    listener = _Receipts()
    conn.set_listener("receipts", listener)
    conn.connect(wait=True)
    try:
        started = time.perf_counter()
        for _ in range(count - 1):
            conn.send(destination, body)
        conn.send(destination, body, headers={"receipt": "last"})
        if not listener.seen.wait(300):
            raise RuntimeError("stomp.py: no RECEIPT for the last message")
        return time.perf_counter() - started
    finally:
        conn.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="broker URL (default: start an embedded stompbox.Broker)")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    body = b"x" * args.size

    clients: dict[str, Callable[[str], float]] = {
        "stompbox.Stomp": lambda url: bench_stompbox(url, args.count, body, "/topic/bench.stompbox", batch=False),
        "stompbox.Stomp, batch()": lambda url: bench_stompbox(url, args.count, body, "/topic/bench.batch", batch=True),
        "stomp.py": lambda url: bench_stomp_py(url, args.count, body, "/topic/bench.stomppy"),
    }
    times: dict[str, list[float]] = {name: [] for name in clients}
    broker = None
    url = args.url
    if url is None:
        broker = stompbox.Broker(port=0)
        broker.start()
        url = broker.url
    try:
        for _ in range(args.rounds):
            for name, run in clients.items():
                times[name].append(run(url))
    finally:
        if broker is not None:
            broker.stop()
    print(f"broker: {url}  messages: {args.count} x {args.size} bytes  rounds: {args.rounds}")
    theirs = args.count / min(times["stomp.py"])
    theirs_median = args.count / statistics.median(times["stomp.py"])
    for name, runs in times.items():
        best, median = args.count / min(runs), args.count / statistics.median(runs)
        print(f"{name:24}: best {best:12,.0f} msg/s {best / theirs:5.1f}x stomp.py"
              f"   median {median:12,.0f} msg/s {median / theirs_median:5.1f}x")


if __name__ == "__main__":
    main()
