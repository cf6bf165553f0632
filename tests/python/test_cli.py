"""The `stompbox run` command itself: graceful shutdown, protected mode, config errors."""

from __future__ import annotations

import socket
import subprocess
import tempfile



def test_sigterm_closes_connections_cleanly_and_exits_zero(broker_factory):
    broker = broker_factory()
    sock = socket.create_connection((broker.host, broker.port), timeout=10)
    sock.sendall(b"CONNECT\naccept-version:1.2\n\n\0")
    data = b""
    while b"\0" not in data:
        data += sock.recv(4096)
    assert data.startswith(b"CONNECTED\n")
    assert broker.stop() == 0
    rest = b""
    while chunk := sock.recv(4096):
        rest += chunk
    sock.close()
    assert rest.startswith(b"ERROR\nmessage:broker shutting down\n"), rest
    assert any("shutting down" in line for line in broker.log)


def test_non_loopback_listener_needs_allow_anonymous(broker_binary):
    result = subprocess.run(
        [broker_binary, "run", "--listen", "0.0.0.0:0"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "--allow-anonymous" in result.stderr


def test_unknown_config_key_is_an_error(broker_binary):
    with tempfile.NamedTemporaryFile("w", suffix=".toml") as config:
        config.write("[limits]\nmax_conections = 5\n")
        config.flush()
        result = subprocess.run(
            [broker_binary, "run", "--config", config.name], capture_output=True, text=True, timeout=30
        )
    assert result.returncode == 2
    assert "max_conections" in result.stderr
