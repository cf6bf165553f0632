"""stomp.py, a third-party client, against the real binary: topics, queues with
client-individual acknowledgements, and transactions, for every protocol version."""

from __future__ import annotations

import queue
import uuid

import pytest
import stomp

TIMEOUT = 5.0

CONNECTIONS = {
    "1.0": stomp.Connection10,
    "1.1": stomp.Connection11,
    "1.2": stomp.Connection12,
}


class Inbox(stomp.ConnectionListener):
    """Collects MESSAGE and ERROR frames so a test can wait for them."""

    def __init__(self) -> None:
        self.messages: queue.Queue = queue.Queue()
        self.errors: queue.Queue = queue.Queue()

    def on_message(self, frame) -> None:
        self.messages.put(frame)

    def on_error(self, frame) -> None:
        self.errors.put(frame)

    def next(self):
        return self.messages.get(timeout=TIMEOUT)

    def assert_empty(self) -> None:
        assert self.messages.empty(), self.messages.get_nowait().body


def connect(broker, version: str, listener: Inbox | None = None, **kwargs):
    connection = CONNECTIONS[version]([(broker.host, broker.port)], **kwargs)
    if listener is not None:
        connection.set_listener("inbox", listener)
    connection.connect(wait=True)
    return connection


def barrier(connection) -> None:
    """Waits until the broker has processed everything this connection sent before."""
    receipt = str(uuid.uuid4())
    waiter = stomp.listener.WaitingListener(receipt)
    connection.set_listener("barrier", waiter)
    connection.send("/topic/barrier", "", headers={"receipt": receipt})
    waiter.wait_on_receipt()
    connection.remove_listener("barrier")


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_topic_round_trip(broker, version):
    inbox = Inbox()
    subscriber = connect(broker, version, inbox)
    subscriber.subscribe("/topic/chat.*", id="chat")
    barrier(subscriber)
    publisher = connect(broker, version)
    publisher.send("/topic/chat.general", "hello", headers={"colour": "blue"})
    frame = inbox.next()
    assert frame.body == "hello"
    assert frame.headers["destination"] == "/topic/chat.general"
    assert frame.headers["colour"] == "blue"
    assert frame.headers["subscription"] == "chat"
    publisher.disconnect()
    subscriber.disconnect()


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_queue_client_individual_ack_redelivers_unacked(broker, version):
    producer = connect(broker, version)
    for n in range(3):
        producer.send("/queue/jobs", f"job-{n}")
    barrier(producer)

    inbox = Inbox()
    consumer = connect(broker, version, inbox)
    consumer.subscribe("/queue/jobs", id="worker", ack="client-individual")
    frames = [inbox.next() for _ in range(3)]
    assert [f.body for f in frames] == ["job-0", "job-1", "job-2"]
    ack_id = "ack" if version == "1.2" else "message-id"
    # Acknowledge the first and the last; the middle one stays unacknowledged.
    for frame in (frames[0], frames[2]):
        if version == "1.2":
            consumer.ack(frame.headers[ack_id])
        else:
            consumer.ack(frame.headers[ack_id], "worker")
    barrier(consumer)
    consumer.disconnect()

    inbox = Inbox()
    again = connect(broker, version, inbox)
    again.subscribe("/queue/jobs", id="worker", ack="client-individual")
    redelivered = inbox.next()
    assert redelivered.body == "job-1"
    assert redelivered.headers.get("redelivered") == "true"
    barrier(again)
    inbox.assert_empty()
    again.disconnect()
    producer.disconnect()


@pytest.mark.parametrize("version", ["1.0", "1.1", "1.2"])
def test_transaction_commit_and_abort(broker, version):
    inbox = Inbox()
    consumer = connect(broker, version, inbox)
    consumer.subscribe("/queue/tx", id="tx")
    barrier(consumer)
    producer = connect(broker, version)

    aborted = producer.begin()
    producer.send("/queue/tx", "never", transaction=aborted)
    producer.abort(aborted)

    committed = producer.begin()
    producer.send("/queue/tx", "first", transaction=committed)
    producer.send("/queue/tx", "second", transaction=committed)
    barrier(producer)
    inbox.assert_empty()  # nothing before COMMIT
    producer.commit(committed)

    assert [inbox.next().body, inbox.next().body] == ["first", "second"]
    barrier(producer)
    barrier(consumer)
    inbox.assert_empty()
    producer.disconnect()
    consumer.disconnect()


def test_bad_destination_gets_an_error_frame(broker):
    inbox = Inbox()
    connection = connect(broker, "1.2", inbox)
    connection.send("/exchange/nope", "x", headers={"receipt": "r-bad"})
    error = inbox.errors.get(timeout=TIMEOUT)
    assert "must start with /topic/ or /queue/" in error.headers["message"]
    assert error.headers["receipt-id"] == "r-bad"


def test_unknown_login_is_refused(broker):
    connection = stomp.Connection12([(broker.host, broker.port)])
    with pytest.raises(stomp.exception.ConnectFailedException):
        connection.connect("admin", "password", wait=True)
