"""Fixtures: a broker embedded in this process and the `stompbox` binary on port 0.

Every client test runs against both (the `broker_url` fixture is parametrized).
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from pathlib import Path
from typing import Iterator

import pytest

import stompbox

REPO = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"listening on (\S+):(\d+)")


@pytest.fixture(scope="session")
def embedded_broker() -> Iterator[stompbox.Broker]:
    with stompbox.Broker(port=0) as broker:
        yield broker


def _binary() -> Path:
    path = Path(os.environ.get("STOMPBOX_BIN", REPO / "target" / "debug" / "stompbox"))
    if not path.exists():
        pytest.skip(f"{path} not built (cargo build -p stompbox-server, or set STOMPBOX_BIN)")
    return path


@pytest.fixture(scope="session")
def binary_broker() -> Iterator[str]:
    """Starts `stompbox run --listen 127.0.0.1:0` and reads the port from its log line."""
    proc = subprocess.Popen(
        [str(_binary()), "run", "--listen", "127.0.0.1:0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "RUST_LOG": os.environ.get("RUST_LOG", "info")},
    )
    assert proc.stderr is not None
    found: list[str] = []
    seen: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        # Keep draining stderr so the broker never blocks on a full pipe.
        assert proc.stderr is not None
        for line in proc.stderr:
            if not ready.is_set():
                seen.append(line)
                match = LISTENING.search(re.sub(r"\x1b\[[0-9;]*m", "", line))
                if match:
                    found.append(f"tcp://{match.group(1)}:{match.group(2)}")
                    ready.set()
        ready.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        if not ready.wait(30) or not found:
            raise RuntimeError("stompbox did not report its address:\n" + "".join(seen))
        yield found[0]
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(5)
        if proc.stderr is not None:
            proc.stderr.close()


@pytest.fixture(params=["embedded", "binary"])
def broker_url(request: pytest.FixtureRequest) -> str:
    if request.param == "embedded":
        return request.getfixturevalue("embedded_broker").url
    return request.getfixturevalue("binary_broker")


@pytest.fixture
def conn(broker_url: str) -> Iterator[stompbox.Stomp]:
    with stompbox.Stomp(broker_url, timeout=5.0) as c:
        yield c


_counter = iter(range(1_000_000))


@pytest.fixture
def queue() -> str:
    """A fresh queue name per test, so tests never see each other's messages."""
    return f"/queue/test-{os.getpid()}-{next(_counter)}"


@pytest.fixture
def topic() -> str:
    return f"/topic/test-{os.getpid()}-{next(_counter)}"
