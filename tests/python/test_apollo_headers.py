"""Apollo's destination headers sent by stomp.py, a third-party client, against the real binary:
selectors, retained messages, ttl, composite and temporary destinations, exclusive consumers and
message groups."""

from __future__ import annotations

import pytest

from test_stomppy import TIMEOUT, Inbox, barrier, connect


def test_selector_and_retained_message(broker):
    admin = connect(broker, "1.2")
    admin.send("/topic/prices", "112.12", headers={"retain": "set", "symbol": "IBM", "receipt": "r"})
    barrier(admin)
    inbox = Inbox()
    watcher = connect(broker, "1.2", inbox)
    watcher.subscribe("/topic/prices", id="ibm", headers={"selector": "symbol = 'IBM'"})
    pinned = inbox.next()
    assert pinned.body == "112.12" and pinned.headers["retain"] == "set"
    admin.send("/topic/prices", "190", headers={"symbol": "AAPL"})
    admin.send("/topic/prices", "113", headers={"symbol": "IBM", "ttl": "60000"})
    latest = inbox.next()
    assert latest.body == "113" and int(latest.headers["expires"]) > 0
    barrier(watcher)
    inbox.assert_empty()

    errors = Inbox()
    bad = connect(broker, "1.2", errors)
    bad.subscribe("/topic/prices", id="bad", headers={"selector": "symbol = "})
    error = errors.errors.get(timeout=TIMEOUT)
    assert "invalid selector at position 10" in error.headers["message"]
    for connection in (admin, watcher):
        connection.disconnect()


def test_request_reply_through_a_temporary_queue_and_a_composite_send(broker):
    service_inbox = Inbox()
    service = connect(broker, "1.2", service_inbox)
    service.subscribe("/queue/requests", id="requests")
    audit_inbox = Inbox()
    audit = connect(broker, "1.2", audit_inbox)
    audit.subscribe("/topic/audit", id="audit")
    barrier(service)
    barrier(audit)

    client_inbox = Inbox()
    client = connect(broker, "1.2", client_inbox)
    client.subscribe("/temp-queue/replies", id="replies")
    client.send("/queue/requests,/topic/audit", "ping", headers={"reply-to": "/temp-queue/replies"})
    request = service_inbox.next()
    assert audit_inbox.next().body == "ping"
    assert request.headers["reply-to"].startswith("/queue/temp.")
    service.send(request.headers["reply-to"], "pong")
    assert client_inbox.next().body == "pong"
    for connection in (client, service, audit):
        connection.disconnect()


@pytest.mark.parametrize("header", ["exclusive", "activemq.exclusive"])
def test_exclusive_consumer_and_message_groups(broker, header):
    destination = f"/queue/{header}"
    shared_inbox, exclusive_inbox = Inbox(), Inbox()
    shared = connect(broker, "1.2", shared_inbox)
    shared.subscribe(destination, id="shared")
    exclusive = connect(broker, "1.2", exclusive_inbox)
    exclusive.subscribe(destination, id="only", headers={header: "true"})
    barrier(shared)
    producer = connect(broker, "1.2")
    for n in range(4):
        group = "message_group" if n % 2 else "JMSXGroupID"
        producer.send(destination, f"m{n}", headers={group: "g"})
    assert [exclusive_inbox.next().body for _ in range(4)] == ["m0", "m1", "m2", "m3"]
    barrier(shared)
    shared_inbox.assert_empty()
    for connection in (producer, exclusive, shared):
        connection.disconnect()
