#!/usr/bin/env python3
"""Takes the README's screenshots of the chat and the console (docs/chat.png, docs/console.png)
in headless Chromium, against the release binary with some traffic going.

Run it after scripts/test (which builds the binary and the venv with selenium and stomp.py):

    target/test-venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import math
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "python")]

import stomp  # noqa: E402
from browser import (  # noqa: E402
    ChatBroker,
    chromium,
    console_login,
    join_chat,
    messages,
    say,
    start_chat_broker,
    wait_for,
    wait_for_state,
)
from conftest import launch_broker  # noqa: E402

DOCS = ROOT / "docs"
# How long the console's charts collect samples before the picture (one per second).
CHART_SECONDS = 60


def traffic(chat_broker: ChatBroker, stop: threading.Event) -> None:
    """A feed of prices at a rate that rises and falls, a queue with a backlog, and a worker
    (logged in as admin: the chat's rules let others use chat topics only)."""
    host = ("127.0.0.1", chat_broker.ports["tcp"])
    feed, worker, watcher, dashboard = (stomp.Connection12([host]) for _ in range(4))
    for connection in (feed, worker, watcher, dashboard):
        connection.connect("admin", "adminpw", wait=True)
    worker.subscribe("/queue/jobs.thumbnails", id="w", ack="auto")
    watcher.subscribe("/topic/prices.*", id="p")
    dashboard.subscribe("/topic/prices.eur", id="d")
    for n in range(25):
        feed.send("/queue/orders", f"order {n}")
    started = time.monotonic()
    while not stop.is_set():
        elapsed = time.monotonic() - started
        per_second = 40 + 30 * math.sin(elapsed / 6)
        feed.send("/topic/prices.eur", f"{1.08 + elapsed / 1000:.4f}")
        feed.send("/queue/jobs.thumbnails", f"image {int(elapsed * 10)}")
        stop.wait(1 / per_second)
    for connection in (feed, worker, watcher, dashboard):
        connection.disconnect()


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        chat_broker = start_chat_broker(Path(folder), launch_broker)
        stop = threading.Event()
        feed = threading.Thread(target=traffic, args=(chat_broker, stop))
        feed.start()
        try:
            with chromium(size=(1000, 600)) as driver:
                join_chat(driver, chat_broker.url("http", "/chat/?nick=alice"))
                wait_for_state(driver, "connected")
                alice = driver.current_window_handle
                driver.switch_to.new_window("window")
                join_chat(driver, chat_broker.url("http", f"/chat/?nick=bob&url={chat_broker.ws_url}"))
                wait_for_state(driver, "connected")
                say(driver, "sticky: Release party on Friday, 5 pm, room 4.2")
                say(driver, "Hi Alice! The console is at /console/")
                driver.switch_to.window(alice)
                wait_for(driver, lambda d: len(messages(d)) == 1, "bob's message")
                say(driver, "Thanks Bob, I can see the room from there")
                wait_for(driver, lambda d: len(messages(d)) == 2, "alice's message")
                driver.execute_script("window.scrollTo(0, 0)")
                driver.save_screenshot(str(DOCS / "chat.png"))
                with chromium(size=(1280, 1180)) as console:
                    console_login(console, chat_broker.url("http", "/console/"), "admin", "adminpw")
                    time.sleep(CHART_SECONDS)  # the charts' samples: one a second
                    console.save_screenshot(str(DOCS / "console.png"))
        finally:
            stop.set()
            feed.join()
            chat_broker.broker.stop()
    print(f"wrote {DOCS / 'chat.png'} and {DOCS / 'console.png'}")


if __name__ == "__main__":
    main()
