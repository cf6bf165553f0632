"""Every `Stomp` method against the embedded broker and the `stompbox` binary."""

from __future__ import annotations

import time

import pytest

import stompbox


def test_connect_reports_session_version_and_repr(conn: stompbox.Stomp) -> None:
    assert conn.session_id
    assert conn.version == "1.2"
    assert not conn.closed
    text = repr(conn)
    assert text.startswith("<stompbox.Stomp url=") and conn.session_id in text and "open" in text


def test_send_and_receive_bytes_and_str(conn: stompbox.Stomp, queue: str) -> None:
    sub = conn.subscribe(queue)
    assert sub
    conn.send(queue, b"\x00binary\xff", headers={"x-kind": "bytes"})
    conn.send(queue, "héllo", receipt=True)
    first = conn.read_frame(timeout=5)
    second = conn.read_frame(timeout=5)
    assert first is not None and second is not None
    assert first.command == "MESSAGE"
    assert first.body == b"\x00binary\xff"
    assert first.headers["x-kind"] == "bytes"
    assert first.headers["destination"] == queue
    assert first.headers["subscription"] == sub
    assert first.header("missing", "dflt") == "dflt"
    assert second.body == "héllo".encode()
    assert "MESSAGE" in repr(first)


def test_header_values_with_special_characters_round_trip(conn: stompbox.Stomp, queue: str) -> None:
    conn.subscribe(queue)
    conn.send(queue, b"x", headers={"x-odd": "a:b\nc\\d", "x-num": 42}, receipt=True)
    frame = conn.read_frame(timeout=5)
    assert frame is not None
    assert frame.headers["x-odd"] == "a:b\nc\\d"
    assert frame.headers["x-num"] == "42"


def test_read_frame_times_out_with_none(conn: stompbox.Stomp, queue: str) -> None:
    conn.subscribe(queue)
    assert conn.read_frame(timeout=0.2) is None
    assert conn.has_frame() is False


def test_has_frame_keeps_the_frame_for_read_frame(conn: stompbox.Stomp, queue: str) -> None:
    conn.subscribe(queue)
    conn.send(queue, b"one", receipt=True)
    assert conn.has_frame(timeout=5)
    frame = conn.read_frame(timeout=5)
    assert frame is not None and frame.body == b"one"


def test_has_frame_sees_a_frame_that_arrives_after_the_receipt(broker_url: str) -> None:
    """A message waiting in a queue is delivered when SUBSCRIBE is handled, around its RECEIPT:
    in the same read or just after. A zero-timeout has_frame() used to look only at what was
    already read, so in about 1 run of 4 it kept answering False. 40 runs: all must see it."""
    with stompbox.Stomp(broker_url, timeout=5) as c:
        for run in range(40):
            queue = f"/queue/has-frame-{id(c)}-{run}"
            c.send(queue, b"waiting")
            c.subscribe(queue)
            deadline = time.monotonic() + 3
            while not c.has_frame():
                assert time.monotonic() < deadline, f"run {run}: has_frame() never turned True"
                time.sleep(0.05)
            frame = c.read_frame(timeout=0)
            assert frame is not None and frame.body == b"waiting"


def test_unsubscribe_stops_delivery(conn: stompbox.Stomp, topic: str) -> None:
    sub = conn.subscribe(topic)
    conn.send(topic, b"before", receipt=True)
    frame = conn.read_frame(timeout=5)
    assert frame is not None and frame.body == b"before"
    conn.unsubscribe(sub, receipt=True)
    conn.send(topic, b"after", receipt=True)
    assert conn.read_frame(timeout=0.3) is None


def test_client_ack_and_nack_redelivers(broker_url: str, queue: str) -> None:
    with stompbox.Stomp(broker_url, timeout=5) as consumer:
        consumer.subscribe(queue, ack="client-individual")
        consumer.send(queue, b"job", receipt=True)
        frame = consumer.read_frame(timeout=5)
        assert frame is not None and frame.body == b"job"
        consumer.nack(frame, receipt=True)
        again = consumer.read_frame(timeout=5)
        assert again is not None and again.body == b"job"
        consumer.ack(again, receipt=True)
        assert consumer.read_frame(timeout=0.3) is None


def test_unacked_message_goes_to_the_next_consumer(broker_url: str, queue: str) -> None:
    first = stompbox.Stomp(broker_url, timeout=5)
    first.subscribe(queue, ack="client")
    first.send(queue, b"work", receipt=True)
    frame = first.read_frame(timeout=5)
    assert frame is not None
    first.close()
    with stompbox.Stomp(broker_url, timeout=5) as second:
        second.subscribe(queue, ack="client")
        redelivered = second.read_frame(timeout=5)
        assert redelivered is not None and redelivered.body == b"work"
        second.ack(redelivered)


def test_transactions_commit_and_abort(conn: stompbox.Stomp, queue: str) -> None:
    conn.subscribe(queue)
    tx = conn.begin()
    conn.send(queue, b"aborted", headers={"transaction": tx})
    conn.abort(tx, receipt=True)
    assert conn.read_frame(timeout=0.3) is None
    tx = conn.begin("tx-explicit")
    assert tx == "tx-explicit"
    conn.send(queue, b"committed", headers={"transaction": tx})
    assert conn.read_frame(timeout=0.3) is None
    conn.commit(tx, receipt=True)
    frame = conn.read_frame(timeout=5)
    assert frame is not None and frame.body == b"committed"


def test_context_manager_disconnects_with_a_receipt(broker_url: str) -> None:
    with stompbox.Stomp(broker_url) as c:
        assert not c.closed
    assert c.closed
    c.close()  # closing twice is harmless
    with pytest.raises(stompbox.StompConnectionError):
        c.send("/queue/x", b"")


def test_iteration_yields_frames_until_the_connection_closes(broker_url: str, queue: str) -> None:
    received = []
    with stompbox.Stomp(broker_url, timeout=5) as c:
        c.subscribe(queue)
        for body in (b"a", b"b", b"c"):
            c.send(queue, body)
        c.send(queue, b"stop", receipt=True)
        for frame in c:
            if frame.body == b"stop":
                break
            received.append(frame.body)
    assert received == [b"a", b"b", b"c"]


def test_iteration_stops_when_the_broker_closes() -> None:
    broker = stompbox.Broker(port=0)
    broker.start()
    c = stompbox.Stomp(broker.url, timeout=5)
    c.subscribe("/queue/closing")
    c.send("/queue/closing", b"last", receipt=True)
    stopper = __import__("threading").Thread(target=broker.stop)
    frames = []
    stopper.start()
    try:
        for frame in c:
            frames.append(frame)
    except stompbox.BrokerError as err:
        # The broker may say why it closes (shutting down) before it does.
        assert err.message
    stopper.join(10)
    assert frames and frames[0].body == b"last"
    assert c.closed


def test_failover_url_skips_a_dead_address(broker_url: str) -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = s.getsockname()[1]
    s.close()
    with stompbox.Stomp(f"failover://(tcp://127.0.0.1:{dead},{broker_url})") as c:
        assert c.session_id


def test_guest_login_is_accepted(broker_url: str) -> None:
    with stompbox.Stomp(broker_url, user="guest", password="guest", headers={"client-id": "t"}) as c:
        assert c.session_id


def test_frame_constructor() -> None:
    frame = stompbox.Frame("SEND", {"destination": "/queue/a"}, "x")
    assert frame.command == "SEND"
    assert frame.headers == {"destination": "/queue/a"}
    assert frame.body == b"x"
    assert frame == stompbox.Frame("SEND", {"destination": "/queue/a"}, b"x")
    with pytest.raises(ValueError):
        stompbox.Frame("BOGUS")


def test_batch_sends_everything_on_exit_in_order(broker_url: str, queue: str) -> None:
    with stompbox.Stomp(broker_url) as consumer, stompbox.Stomp(broker_url) as producer:
        consumer.subscribe(queue)
        with producer.batch():
            for n in range(2000):
                producer.send(queue, f"{n}")
        producer.send(queue, b"last", receipt=True)
        bodies = [consumer.read_frame(timeout=5) for _ in range(2001)]
        assert [f.body for f in bodies if f is not None] == [f"{n}".encode() for n in range(2000)] + [b"last"]


def test_batch_sends_what_it_holds_before_waiting_for_a_receipt(broker_url: str, queue: str) -> None:
    with stompbox.Stomp(broker_url) as consumer, stompbox.Stomp(broker_url) as producer:
        consumer.subscribe(queue)
        with producer.batch():
            producer.send(queue, b"held")
            producer.send(queue, b"flushed by the receipt wait", receipt=True)
            first = consumer.read_frame(timeout=5)
            assert first is not None and first.body == b"held"
            producer.send(queue, b"explicit")
            producer.flush()
            assert consumer.read_frame(timeout=5).body == b"flushed by the receipt wait"
            explicit = consumer.read_frame(timeout=5)
            assert explicit is not None and explicit.body == b"explicit"
