"""Fixtures shared by every pytest suite of the repository (tests/python, bindings-python/tests,
bindings-php/tests): the real `stompbox` binary, started on an ephemeral loopback port."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
LISTENING = re.compile(r"listening on (127\.0\.0\.1):(\d+)")


def find_artifact(name: str) -> Path:
    """A build output under target/: the release build, else the debug build."""
    for profile in ("release", "debug"):
        candidate = ROOT / "target" / profile / name
        if candidate.exists():
            return candidate
    pytest.fail(f"target/*/{name} is not built: run scripts/test, or cargo build --release first")


def broker_binary() -> Path:
    """The binary under test: $STOMPBOX_BIN, else target/release, else target/debug."""
    if os.environ.get("STOMPBOX_BIN"):
        return Path(os.environ["STOMPBOX_BIN"])
    return find_artifact("stompbox")


@dataclass
class RunningBroker:
    """A `stompbox run` process and where it listens."""

    process: subprocess.Popen[str]
    host: str
    port: int
    log: list[str]
    drain: threading.Thread
    listening: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"tcp://{self.host}:{self.port}"

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
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as config:
        config.write(config_toml)
    return launch_broker(["--config", config.name, "--listen", "127.0.0.1:0", *extra_args])


def launch_broker(run_args: list[str], listeners: int = 1) -> RunningBroker:
    """Runs `stompbox run RUN_ARGS` and waits for `listeners` `listening on` log lines (host and
    port are the first one's; `listening` has them all)."""
    process = subprocess.Popen(
        [broker_binary(), "run", *run_args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "RUST_LOG": "info"},
    )
    assert process.stderr is not None
    log: list[str] = []
    listening: list[str] = []
    for line in process.stderr:
        log.append(line)
        if LISTENING.search(line):
            listening.append(line)
        if len(listening) == listeners:
            # Keep draining stderr so the broker never blocks on a full pipe.
            drain = threading.Thread(target=lambda: log.extend(process.stderr), daemon=True)
            drain.start()
            found = LISTENING.search(listening[0])
            assert found is not None
            return RunningBroker(process, found.group(1), int(found.group(2)), log, drain, listening)
    process.wait(timeout=15)
    process.stderr.close()
    raise AssertionError(f"broker exited before listening: {''.join(log)}")


@pytest.fixture(name="broker_binary")
def broker_binary_fixture() -> Path:
    """The path of the binary under test."""
    return broker_binary()


@pytest.fixture(scope="session")
def php_extension() -> Path:
    """The PHP extension, built by `cargo build --release -p stompbox-php`."""
    return find_artifact("libstompbox_php.so")


@pytest.fixture
def broker() -> Iterator[RunningBroker]:
    """A broker with the default configuration, stopped (and required to exit 0) after the test."""
    running = start_broker()
    yield running
    assert running.stop() == 0, "".join(running.log)


@pytest.fixture(scope="session")
def session_broker() -> Iterator[RunningBroker]:
    """One broker with the default configuration shared by a whole test session."""
    running = start_broker()
    yield running
    assert running.stop() == 0, "".join(running.log)


@pytest.fixture
def broker_factory() -> Iterator[Callable[..., RunningBroker]]:
    """Starts brokers with a given TOML configuration (and extra arguments); stops them after."""
    yield from stopped_after(start_broker)


@pytest.fixture
def broker_launcher() -> Iterator[Callable[..., RunningBroker]]:
    """Runs `stompbox run` with given arguments, waiting for a number of listeners (see
    `launch_broker`); stops the brokers after."""
    yield from stopped_after(launch_broker)


def stopped_after(start: Callable[..., RunningBroker]) -> Iterator[Callable[..., RunningBroker]]:
    """`start`, keeping what it started, which is stopped once the test is over."""
    started: list[RunningBroker] = []

    def keep(*args, **kwargs) -> RunningBroker:
        running = start(*args, **kwargs)
        started.append(running)
        return running

    yield keep
    for running in started:
        running.stop()


@pytest.fixture(scope="module")
def module_broker_factory() -> Iterator[Callable[..., RunningBroker]]:
    """Like `broker_factory`, for brokers a whole test module shares."""
    yield from stopped_after(start_broker)


@pytest.fixture(scope="module")
def module_broker_launcher() -> Iterator[Callable[..., RunningBroker]]:
    """Like `broker_launcher`, for brokers a whole test module shares."""
    yield from stopped_after(launch_broker)
