"""`ssl://` and `tls://` against the real binary's tls listener: the broker's certificate comes
from a CA made per test run (`trustme`), trusted through `ca_file`. A certificate that does not
verify, a wrong host name and a plain-TCP port each raise StompTlsError with a clear message;
failover passes from a dead tcp address to a live ssl one."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import stompbox

@dataclass
class TlsBroker:
    """A broker serving a tcp and a tls listener, and the CA file its certificate chains to."""

    tcp_port: int
    tls_port: int
    ca_file: Path


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tls_broker(tmp_path: Path, launch: Callable[..., Any], tls_files: Callable[..., Any], *names: str) -> TlsBroker:
    tls = tls_files(tmp_path, *names)
    (tmp_path / "stompbox.toml").write_text(
        '[[listener]]\nkind = "tcp"\naddress = "127.0.0.1:0"\n'
        '[[listener]]\nkind = "tls"\naddress = "127.0.0.1:0"\ncert = "cert.pem"\nkey = "key.pem"\n'
    )
    ports = launch(["--config", str(tmp_path / "stompbox.toml")], listeners=2).ports()
    return TlsBroker(ports["tcp"], ports["tls"], tls.ca_file)


@pytest.fixture(name="tls_broker")
def tls_broker_fixture(
    tmp_path: Path, broker_launcher: Callable[..., Any], tls_files: Callable[..., Any]
) -> Iterator[TlsBroker]:
    yield _tls_broker(tmp_path, broker_launcher, tls_files, "localhost", "127.0.0.1")


@pytest.mark.parametrize("scheme,host", [("ssl", "127.0.0.1"), ("tls", "localhost")])
def test_ssl_and_tls_urls_carry_frames(tls_broker: TlsBroker, scheme: str, host: str) -> None:
    url = f"{scheme}://{host}:{tls_broker.tls_port}"
    with stompbox.Stomp(url, ca_file=tls_broker.ca_file, timeout=5) as consumer, stompbox.Stomp(
        url, ca_file=str(tls_broker.ca_file), heartbeat=(100, 0), timeout=5
    ) as producer:
        consumer.subscribe("/queue/tls")
        producer.send("/queue/tls", b"x" * 100_000)
        producer.send("/queue/tls", "over tls", receipt=True)
        frame = consumer.read_frame(timeout=5)
        assert frame is not None and frame.body == b"x" * 100_000
        frame = consumer.read_frame(timeout=5)
        assert frame is not None and frame.body == b"over tls"


def test_an_untrusted_certificate_raises_tls_error(tls_broker: TlsBroker) -> None:
    # No ca_file: the system's CAs, which did not sign this run's CA.
    with pytest.raises(stompbox.StompTlsError, match="not signed by a CA this client trusts"):
        stompbox.Stomp(f"ssl://127.0.0.1:{tls_broker.tls_port}", timeout=5)


def test_a_wrong_host_name_raises_tls_error(
    tmp_path: Path, broker_launcher: Callable[..., Any], tls_files: Callable[..., Any]
) -> None:
    broker = _tls_broker(tmp_path, broker_launcher, tls_files, "broker.example")
    with pytest.raises(stompbox.StompTlsError, match='not valid for the name "127.0.0.1"'):
        stompbox.Stomp(f"ssl://127.0.0.1:{broker.tls_port}", ca_file=broker.ca_file, timeout=5)


def test_a_plain_tcp_port_raises_tls_error(tls_broker: TlsBroker) -> None:
    with pytest.raises(stompbox.StompTlsError, match="is this a plain TCP port"):
        stompbox.Stomp(f"ssl://127.0.0.1:{tls_broker.tcp_port}", ca_file=tls_broker.ca_file, timeout=5)


def test_an_unusable_ca_file_raises_tls_error(tls_broker: TlsBroker, tmp_path: Path) -> None:
    with pytest.raises(stompbox.StompTlsError, match="cannot load the CA certificates"):
        stompbox.Stomp(f"ssl://127.0.0.1:{tls_broker.tls_port}", ca_file=tmp_path / "missing.pem", timeout=5)


def test_failover_passes_from_a_dead_tcp_address_to_a_live_ssl_one(tls_broker: TlsBroker) -> None:
    url = f"failover://(tcp://127.0.0.1:{_dead_port()},ssl://127.0.0.1:{tls_broker.tls_port})"
    with stompbox.Stomp(url, ca_file=tls_broker.ca_file, timeout=5) as conn:
        conn.send("/queue/failover", b"", receipt=True)
