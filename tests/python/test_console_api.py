"""The management API, /metrics and /stomp of the real binary over real sockets (http and https):
every endpoint refused without credentials, to a user who may not monitor (or act), and to
another site's page; the metrics read by the official Prometheus parser; the session cookie
Secure on https; STOMP over WebSocket at the listener's own /stomp."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from typing import Any

import pytest
from browser import ChatBroker, chat_broker  # noqa: F401 (the fixture)
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

TIMEOUT = 5.0

# Every endpoint, and whether it acts (admin) or reads (monitor).
ENDPOINTS = [
    ("GET", "/api/broker", False),
    ("GET", "/api/connections", False),
    ("GET", "/api/connections/1", False),
    ("GET", "/api/destinations", False),
    ("GET", "/metrics", False),
    ("DELETE", "/api/connections/1", True),
    ("POST", "/api/queues/jobs/purge", True),
    ("DELETE", "/api/queues/jobs", True),
]


@dataclass
class Answer:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    url: str,
    method: str = "GET",
    user: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: Any = None,
    context: ssl.SSLContext | None = None,
) -> Answer:
    request = urllib.request.Request(url, method=method, headers=dict(headers or {}))
    if user is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(user).encode()).decode())
    if body is not None:
        request.data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT, context=context) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Answer(error.code, error.headers, error.read())


def metric_value(families: dict[str, Any], name: str, **labels: str) -> float:
    """The value of the sample of metric family `name` that has `labels`."""
    return next(s.value for s in families[name].samples if all(s.labels.get(k) == v for k, v in labels.items()))


@pytest.mark.parametrize(("method", "path", "acts"), ENDPOINTS)
def test_every_endpoint_is_refused_to_whoever_may_not(chat_broker: ChatBroker, method: str, path: str, acts: bool):
    url = chat_broker.url("http", path)
    anonymous = call(url, method)
    assert anonymous.status == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Basic realm="stompbox"'
    assert call(url, method, user=("admin", "wrong")).status == 401
    dave = call(url, method, user=("dave", "davepw"))
    assert dave.status == 403
    assert dave.json() == {"error": f"access denied: dave may not {'admin' if acts else 'monitor'} the broker"}
    viewer = call(url, method, user=("viewer", "viewerpw"))
    assert (viewer.status == 403) == acts, viewer.body
    for header, value in [("Origin", "https://evil.example"), ("Referer", "https://evil.example/")]:
        cross_site = call(url, method, user=("admin", "adminpw"), headers={header: value})
        assert cross_site.status == 403
        assert cross_site.json()["error"].startswith("cross-site request refused")
    admin = call(url, method, user=("admin", "adminpw"))
    assert admin.status in (200, 404), admin.body  # 404: no connection 1 or queue jobs
    own_origin = {"Origin": chat_broker.url("http", "")}
    assert call(url, method, user=("admin", "adminpw"), headers=own_origin).status == admin.status


def test_metrics_are_what_the_json_says(chat_broker: ChatBroker):
    admin = ("admin", "adminpw")
    answer = call(chat_broker.url("http", "/metrics"), user=admin)
    assert answer.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    families = {family.name: family for family in text_string_to_metric_families(answer.body.decode())}
    overview = call(chat_broker.url("http", "/api/broker"), user=admin).json()

    def value(name: str, **labels: str) -> float:
        return metric_value(families, name, **labels)

    assert families["stompbox_connections"].type == "gauge"
    assert families["stompbox_messages_in"].type == "counter"
    assert value("stompbox_build_info", version=overview["version"]) == 1
    assert value("stompbox_start_time_seconds") == overview["started_at_ms"] / 1000
    assert value("stompbox_connections_closed", reason="closed-by-operator") == 0
    for reason in overview["closes"]:
        assert value("stompbox_connections_closed", reason=reason) <= overview["closes"][reason]
    assert value("stompbox_memory_high_watermark_bytes") == overview["memory"]["high_watermark"]


def test_a_login_over_https_sets_a_secure_strict_cookie(chat_broker: ChatBroker):
    context = ssl.create_default_context()
    chat_broker.ca.configure_trust(context)
    url = chat_broker.url("https", "/api/login")
    refused = call(url, "POST", body={"user": "admin", "password": "wrong"}, context=context)
    assert refused.status == 401
    answer = call(url, "POST", body={"user": "viewer", "password": "viewerpw"}, context=context)
    assert answer.json() == {"user": "viewer", "monitor": True, "admin": False}
    cookie = answer.headers["Set-Cookie"]
    assert cookie.endswith("; Path=/; HttpOnly; SameSite=Strict; Secure"), cookie
    session = {"Cookie": cookie.split(";")[0]}
    assert call(chat_broker.url("https", "/api/broker"), headers=session, context=context).status == 200
    assert call(chat_broker.url("https", "/api/queues/x"), "DELETE", headers=session, context=context).status == 403


def test_stomp_over_websocket_at_the_listeners_own_origin(chat_broker: ChatBroker):
    url = f"ws://127.0.0.1:{chat_broker.ports['http']}/stomp"
    with connect(url, subprotocols=["v12.stomp"], origin=chat_broker.url("http", ""), open_timeout=TIMEOUT) as ws:
        assert ws.subprotocol == "v12.stomp"
        ws.send("CONNECT\naccept-version:1.2\nhost:localhost\n\n\0")
        assert str(ws.recv(timeout=TIMEOUT)).startswith("CONNECTED\n")
        connections = call(chat_broker.url("http", "/api/connections"), user=("admin", "adminpw")).json()["items"]
        assert [(c["listener"], c["kind"], c["user"]) for c in connections] == [("http", "ws", None)]
    with pytest.raises(InvalidStatus) as refused:
        with connect(url, origin="https://evil.example", open_timeout=TIMEOUT):
            pass
    assert refused.value.response.status_code == 403
