"""Errors map onto the stompbox exception classes, never a bare RuntimeError."""

from __future__ import annotations

import socket

import pytest

import stompbox


def _dead_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_exception_hierarchy() -> None:
    for cls in (
        stompbox.StompConnectionError,
        stompbox.BrokerError,
        stompbox.StompTimeoutError,
        stompbox.StompProtocolError,
    ):
        assert issubclass(cls, stompbox.StompError)
    assert issubclass(stompbox.AuthenticationError, stompbox.BrokerError)
    assert issubclass(stompbox.StompTlsError, stompbox.StompConnectionError)
    assert stompbox.BrokerError.__module__ == "stompbox"


def test_refused_port_is_a_connection_error() -> None:
    with pytest.raises(stompbox.StompConnectionError, match="cannot connect"):
        stompbox.Stomp(f"tcp://127.0.0.1:{_dead_port()}", timeout=2)


def test_bad_credentials_raise_authentication_error(broker_url: str) -> None:
    with pytest.raises(stompbox.AuthenticationError) as info:
        stompbox.Stomp(broker_url, user="admin", password="wrong", timeout=5)
    assert "authentication failed" in info.value.message
    assert isinstance(info.value.body, bytes)
    assert info.value.frame.command == "ERROR"


def test_broker_error_carries_message_and_body(conn: stompbox.Stomp) -> None:
    with pytest.raises(stompbox.BrokerError) as info:
        conn.send("not-a-destination", b"x", receipt=True)
    assert not isinstance(info.value, stompbox.AuthenticationError)
    assert info.value.message
    assert info.value.message in str(info.value)
    assert info.value.body
    assert conn.closed


def test_receipt_timeout_raises_timeout_error() -> None:
    # A listener that accepts and answers CONNECT but never sends a RECEIPT.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    import threading

    accepted: list[socket.socket] = []

    def fake() -> None:
        peer, _ = server.accept()
        accepted.append(peer)
        data = b""
        while b"\x00" not in data:
            data += peer.recv(4096)
        peer.sendall(b"CONNECTED\nversion:1.2\n\n\x00")

    t = threading.Thread(target=fake)
    t.start()
    try:
        c = stompbox.Stomp(f"tcp://127.0.0.1:{port}", timeout=0.3)
        t.join(5)
        with pytest.raises(stompbox.StompTimeoutError, match="RECEIPT"):
            c.send("/queue/a", b"x", receipt=True)
        # A timeout does not break the connection.
        assert not c.closed
        with pytest.raises(stompbox.StompTimeoutError):
            c.close()  # DISCONNECT's receipt never comes either
        assert c.closed
    finally:
        for peer in accepted:
            peer.close()
        server.close()


def test_an_unknown_scheme_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unsupported scheme http"):
        stompbox.Stomp("http://127.0.0.1:61614")


def test_bad_arguments_are_value_or_type_errors(conn: stompbox.Stomp) -> None:
    with pytest.raises(ValueError):
        stompbox.Stomp("localhost:61613")
    with pytest.raises(ValueError):
        conn.read_frame(timeout=-1)
    with pytest.raises(TypeError):
        conn.send("/queue/a", 12)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        conn.send("/queue/a", b"", headers=["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        conn.ack(stompbox.Frame("RECEIPT"))
