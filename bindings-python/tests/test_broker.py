"""The embedded broker: ports, config as a dict or a TOML file, start/stop."""

from __future__ import annotations

from pathlib import Path

import pytest

import stompbox


def test_port_zero_picks_a_free_port_and_stop_closes() -> None:
    broker = stompbox.Broker(port=0)
    assert not broker.running
    with pytest.raises(stompbox.StompError):
        broker.port
    broker.start()
    broker.start()  # idempotent
    try:
        assert broker.port > 0
        assert broker.url == f"tcp://127.0.0.1:{broker.port}"
        assert str(broker.port) in repr(broker)
        with stompbox.Stomp(broker.url) as c:
            assert c.session_id
    finally:
        broker.stop()
    broker.stop()
    assert not broker.running
    with pytest.raises(stompbox.StompConnectionError):
        stompbox.Stomp(f"tcp://127.0.0.1:{broker.addresses[0][1] if broker.running else 1}", timeout=1)


def test_config_dict_uses_the_same_keys_as_toml() -> None:
    with stompbox.Broker(port=0, config={"limits": {"max_connections": 1}}) as broker:
        with stompbox.Stomp(broker.url) as c:
            assert c.session_id


def test_config_file_and_port_none_use_its_listen(tmp_path: Path) -> None:
    path = tmp_path / "stompbox.toml"
    path.write_text('listen = ["127.0.0.1:0"]\n[limits]\nmax_connections = 5\n')
    with stompbox.Broker(port=None, config=path) as broker:
        assert broker.port > 0


def test_bad_config_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown"):
        stompbox.Broker(config={"no_such_key": 1})
    with pytest.raises(ValueError):
        stompbox.Broker(config=tmp_path / "missing.toml")
    with pytest.raises(TypeError):
        stompbox.Broker(config=42)  # type: ignore[arg-type]


def test_data_dir_keeps_persistent_messages_across_a_restart(tmp_path: Path) -> None:
    config = {"data_dir": str(tmp_path / "data")}
    with stompbox.Broker(port=0, config=config) as broker:
        with stompbox.Stomp(broker.url) as producer:
            producer.send("/queue/orders", b"not kept", receipt=True)
            producer.send("/queue/orders", b"kept", headers={"persistent": "true"}, receipt=True)
    with stompbox.Broker(port=0, config=config) as broker:
        with stompbox.Stomp(broker.url) as consumer:
            consumer.subscribe("/queue/orders")
            # First in the queue: the message sent before it was not persistent, so not stored.
            frame = consumer.read_frame(timeout=10)
            assert frame is not None and frame.body == b"kept"
            assert frame.header("redelivered") == "true", "the broker cannot know it was not delivered"
