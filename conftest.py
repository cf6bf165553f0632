"""Fixtures that run the real `stompbox` binary on an ephemeral loopback port."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"listening on (127\.0\.0\.1):(\d+)")


def broker_binary() -> str:
    """The binary under test: $STOMPBOX_BIN, else the release build, else the debug build."""
    if os.environ.get("STOMPBOX_BIN"):
        return os.environ["STOMPBOX_BIN"]
    for profile in ("release", "debug"):
        candidate = ROOT / "target" / profile / "stompbox"
        if candidate.exists():
            return str(candidate)
    pytest.fail("no stompbox binary: run `cargo build --release -p stompbox-server` or set STOMPBOX_BIN")


@dataclass
class RunningBroker:
    """A `stompbox run` process and where it listens."""

    process: subprocess.Popen[str]
    host: str
    port: int
    log: list[str]
    drain: threading.Thread

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_bytes(self) -> int:
        """Resident memory of the broker process, from /proc."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS in /proc status")

    def stop(self) -> int:
        """SIGTERM, then wait; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=15)
        self.drain.join(timeout=15)
        assert self.process.stderr is not None
        self.process.stderr.close()
        return code


def start_broker(config_toml: str = "", *extra_args: str) -> RunningBroker:
    """Starts the binary on 127.0.0.1:0 and waits for its `listening on` log line."""
    config = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
    config.write(config_toml)
    config.close()
    process = subprocess.Popen(
        [broker_binary(), "run", "--config", config.name, "--listen", "127.0.0.1:0", *extra_args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "RUST_LOG": "info"},
    )
    assert process.stderr is not None
    log: list[str] = []
    for line in process.stderr:
        log.append(line)
        found = LISTENING.search(line)
        if found:
            # Keep draining stderr so the broker never blocks on a full pipe.
            drain = threading.Thread(target=lambda: log.extend(process.stderr), daemon=True)
            drain.start()
            return RunningBroker(process, found.group(1), int(found.group(2)), log, drain)
    process.wait(timeout=15)
    process.stderr.close()
    raise AssertionError(f"broker exited before listening: {''.join(log)}")


@pytest.fixture
def broker() -> Iterator[RunningBroker]:
    """A broker with the default configuration."""
    running = start_broker()
    yield running
    assert running.stop() == 0, "".join(running.log)


@pytest.fixture
def broker_factory() -> Iterator:
    """Starts brokers with a given TOML configuration; stops them after the test."""
    started: list[RunningBroker] = []

    def factory(config_toml: str = "", *extra_args: str) -> RunningBroker:
        running = start_broker(config_toml, *extra_args)
        started.append(running)
        return running

    yield factory
    for running in started:
        running.stop()
