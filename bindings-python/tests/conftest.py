"""Fixtures: a broker embedded in this process and the `stompbox` binary on port 0 (the
repository's root conftest.py starts it).

Every client test runs against both (the `broker_url` fixture is parametrized).
"""

from __future__ import annotations

import os
from typing import Iterator

import pytest

import stompbox



@pytest.fixture(scope="session")
def embedded_broker() -> Iterator[stompbox.Broker]:
    with stompbox.Broker(port=0) as broker:
        yield broker


@pytest.fixture(params=["embedded", "binary"])
def broker_url(request: pytest.FixtureRequest) -> str:
    if request.param == "embedded":
        return request.getfixturevalue("embedded_broker").url
    return request.getfixturevalue("session_broker").url


@pytest.fixture
def conn(broker_url: str) -> Iterator[stompbox.Stomp]:
    with stompbox.Stomp(broker_url, timeout=5.0) as c:
        yield c


_counter = iter(range(1_000_000))


@pytest.fixture
def queue() -> str:
    """A fresh queue name per test, so tests never see each other's messages."""
    return f"/queue/test-{os.getpid()}-{next(_counter)}"


@pytest.fixture
def topic() -> str:
    return f"/topic/test-{os.getpid()}-{next(_counter)}"
