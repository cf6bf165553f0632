"""Fixtures shared by every pytest suite of the repository (tests/python, bindings-python/tests,
bindings-php/tests): the real `stompbox` binary, started on an ephemeral loopback port, and
certificates from a CA made per test (`trustme`) for its tls and wss listeners."""

from __future__ import annotations

import os
import re
import signal
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trustme

ROOT = Path(__file__).resolve().parent
LISTENING = re.compile(r"listening on (127\.0\.0\.1):(\d+)")
# A listener's port and kind in its `listening on ADDRESS (KIND NAME)` line.
LISTENER = re.compile(r"listening on 127\.0\.0\.1:(\d+) \((\w+) ")


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

    def ports(self) -> dict[str, int]:
        """Each listener's port, by kind (for a broker with one listener of each kind)."""
        ports = {}
        for line in self.listening:
            found = LISTENER.search(line)
            assert found, line
            ports[found.group(2)] = int(found.group(1))
        return ports

    def stop(self) -> int:
        """SIGTERM, then wait; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=15)
        self.drain.join(timeout=15)
        assert self.process.stderr is not None
        self.process.stderr.close()
        return code


@dataclass
class TlsFiles:
    """A CA made for one test and a server certificate it signed, as PEM files in one folder:
    `cert.pem`, `key.pem` (for a listener's `cert` and `key`) and `ca.pem` (for clients)."""

    ca: trustme.CA
    folder: Path

    @property
    def ca_file(self) -> Path:
        return self.folder / "ca.pem"

    def ssl_context(self) -> ssl.SSLContext:
        """A client context (OpenSSL) that trusts the CA."""
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


def write_tls_files(folder: Path, *names: str) -> TlsFiles:
    """A new CA and a server certificate for `names`, written into `folder`."""
    ca = trustme.CA()
    server = ca.issue_cert(*names)
    server.cert_chain_pems[0].write_to_path(folder / "cert.pem")
    server.private_key_pem.write_to_path(folder / "key.pem")
    ca.cert_pem.write_to_path(folder / "ca.pem")
    return TlsFiles(ca, folder)


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
        # The listeners' debug lines say why a TLS handshake or WebSocket upgrade failed.
        env={**os.environ, "RUST_LOG": "info,stompbox_server::listener=debug"},
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


@pytest.fixture(scope="session")
def tls_files() -> Callable[..., TlsFiles]:
    """`tls_files(folder, *names)`: a new CA and a server certificate it signed for `names`, as
    `cert.pem`, `key.pem` and `ca.pem` in `folder` (see `TlsFiles`)."""
    return write_tls_files


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
        # pytest shows what a test printed only when it failed: then the brokers' logs are there.
        print("".join(running.log))


@pytest.fixture(scope="module")
def module_broker_factory() -> Iterator[Callable[..., RunningBroker]]:
    """Like `broker_factory`, for brokers a whole test module shares."""
    yield from stopped_after(start_broker)


@pytest.fixture(scope="module")
def module_broker_launcher() -> Iterator[Callable[..., RunningBroker]]:
    """Like `broker_launcher`, for brokers a whole test module shares."""
    yield from stopped_after(launch_broker)
