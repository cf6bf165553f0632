"""The Python examples against the real binary: send.py publishes two chat messages and
subscribe.py prints both."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python"


def test_send_and_subscribe_examples(broker):
    env = {**os.environ, "STOMP_URL": broker.url, "TIMEOUT": "2"}
    subscriber = subprocess.Popen(
        [sys.executable, EXAMPLES / "subscribe.py"], stdout=subprocess.PIPE, text=True, env=env
    )
    assert subscriber.stdout is not None
    assert subscriber.stdout.readline() == "subscribed\n"
    sent = subprocess.run(
        [sys.executable, EXAMPLES / "send.py"], capture_output=True, text=True, env=env, timeout=30
    )
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout == "sent 2 messages to /topic/chat.general.demo\n"
    rest, _ = subscriber.communicate(timeout=30)
    subscriber.stdout.close()
    assert rest.splitlines() == ["hello from Python", "sticky: read me first"]
    assert subscriber.returncode == 0
