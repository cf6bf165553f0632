"""The chat and the console in a real browser: headless Chromium (Debian's, through selenium)
against the real binary.

Four chat pages join one room: over `ws` at the http listener's own /stomp, over the dedicated
`ws` listener, over `wss` at the https listener (its certificate trusted by the browser), and on
a listener that wants a login, which the page asks for. What one page types, the others show;
what the PHP publisher posts appears on every page, the plain message fading out after 5 s and
the sticky one staying. In the console, a monitor sees the figures but no buttons and is refused
by the API; an admin sees the pages' connections and the room with the right counts and the
charts drawn, closes a connection, and that page says so.

The pages and the browser are shared by the module (Chromium takes a second or two to start);
the tests run in order: the console's counts are those of the room the first test filled.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from browser import (
    ChatBroker,
    chart_lines,
    chat_broker,  # noqa: F401 (the fixture)
    chromium,
    console_login,
    join_chat,
    messages,
    say,
    status,
    table_rows,
    wait_for,
    wait_for_state,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]
ROOM = "/topic/chat.general.demo"


@dataclass
class Room:
    """The browser, and its chat pages (one window each) by who joined."""

    driver: WebDriver
    windows: dict[str, str]

    def page(self, who: str) -> WebDriver:
        """Switches the browser to `who`'s page."""
        self.driver.switch_to.window(self.windows[who])
        return self.driver


@pytest.fixture(scope="module")
def room(chat_broker: ChatBroker) -> Iterator[Room]:
    pages = {
        "alice": chat_broker.url("http", "/chat/?nick=alice"),
        "bob": chat_broker.url("http", f"/chat/?nick=bob&url={chat_broker.ws_url}"),
        "carol": chat_broker.url("https", "/chat/?nick=carol"),
        "dave": chat_broker.url("members", "/chat/?nick=dave"),
    }
    with chromium(trusted_cert=chat_broker.ca.cert_pem.bytes()) as driver:
        windows = {}
        for who, url in pages.items():
            if windows:
                driver.switch_to.new_window("window")
            windows[who] = driver.current_window_handle
            join_chat(driver, url)
        room = Room(driver, windows)
        for who in ["alice", "bob", "carol"]:
            wait_for_state(room.page(who), "connected")
        # The members listener refuses anonymous logins: the page asks for one.
        dave = room.page("dave")
        wait_for_state(dave, "error")
        assert "asks for a login" in status(dave)
        dave.find_element(By.ID, "login").send_keys("dave")
        dave.find_element(By.ID, "passcode").send_keys("davepw")
        dave.find_element(By.ID, "join-button").click()
        wait_for_state(dave, "connected")
        yield room


def publish_with_php(chat_broker: ChatBroker, php_extension: Path) -> None:
    """examples/php/send.php, as written, against the tcp listener."""
    env = {**os.environ, "STOMP_URL": chat_broker.stomp_url}
    command = ["php", "-n", "-d", f"extension={php_extension}", str(ROOT / "examples" / "php" / "send.php")]
    sent = subprocess.run(command, capture_output=True, text=True, env=env, timeout=30)
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout == f"sent 2 messages to {ROOM}\n"


def test_every_page_shows_what_the_others_and_php_send(room: Room, chat_broker: ChatBroker, php_extension: Path):
    say(room.page("alice"), "hi from alice")
    for who in room.windows:
        page = room.page(who)
        wait_for(page, lambda d: ("alice", "hi from alice") in messages(d), f"alice's message on {who}'s page")
    publish_with_php(chat_broker, php_extension)
    for who in room.windows:
        page = room.page(who)
        wait_for(page, lambda d: ("PHP", "hello from PHP") in messages(d), f"PHP's message on {who}'s page")
        wait_for(page, lambda d: messages(d, "pinned") == [("PHP", "read me first")], f"the pin on {who}'s page")
    # The plain messages fade out after 5 s; the sticky one stays.
    for who in room.windows:
        page = room.page(who)
        wait_for(page, lambda d: messages(d) == [], f"the plain messages to fade on {who}'s page")
        assert messages(page, "pinned") == [("PHP", "read me first")]
        assert page.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "connected"


def test_a_monitor_sees_the_figures_but_no_buttons_and_the_api_refuses_it(room: Room, chat_broker: ChatBroker):
    with chromium() as driver:
        console_login(driver, chat_broker.url("http", "/console/"), "viewer", "viewerpw")
        wait_for(driver, lambda d: len(table_rows(d, "connections")) == 4, "the four pages' connections")
        assert driver.find_elements(By.CSS_SELECTOR, "#dashboard button") == []
        assert driver.find_element(By.ID, "user").text == "viewer"
        refused = driver.execute_async_script(
            """const done = arguments[arguments.length - 1];
            fetch("/api/queues/jobs", {method: "DELETE", headers: {"X-Requested-With": "test"}})
              .then(async (r) => done([r.status, (await r.json()).error]));"""
        )
        assert refused == [403, "access denied: viewer may not admin the broker"]


def test_an_admin_sees_the_room_and_closes_a_connection(room: Room, chat_broker: ChatBroker):
    with chromium() as driver:
        console_login(driver, chat_broker.url("http", "/console/"), "admin", "adminpw")
        wait_for(driver, lambda d: len(table_rows(d, "connections")) == 4, "the four pages' connections")
        listeners = sorted(row[3] for row in table_rows(driver, "connections"))
        assert listeners == ["http (ws)", "https (wss)", "members (ws)", "ws"]
        users = sorted(row[1] for row in table_rows(driver, "connections"))
        assert users == ["anonymous", "anonymous", "anonymous", "dave"]
        topic = next(row for row in table_rows(driver, "destinations") if row[0] == ROOM)
        # destination, kind, producers, consumers, enqueued, dequeued: alice still publishes, PHP
        # has gone; alice's message and PHP's two went to each of the four pages.
        assert topic[:6] == [ROOM, "topic", "1", "4", "3", "12"]
        # Two lines of message rates and one of connections, drawn from at least two samples.
        for chart, lines in [("rate-chart", 2), ("connections-chart", 1)]:
            drawn = wait_for(driver, lambda d: (points := chart_lines(d, chart)) and min(points) >= 2 and points, chart)
            assert len(drawn) == lines
        carol = driver.find_element(By.XPATH, "//table[@id='connections']//tr[td[4]='https (wss)']")
        carol.find_element(By.CLASS_NAME, "close-connection").click()
        wait_for(driver, lambda d: len(table_rows(d, "connections")) == 3, "the closed connection to go")
        closed = table_rows(driver, "closed")
        assert closed and closed[0][3] == "https" and closed[0][5] == "closed by an operator"
    page = room.page("carol")
    wait_for_state(page, "error")
    assert status(page) == "Disconnected: closed by an operator."
    assert room.page("alice").find_element(By.TAG_NAME, "body").get_attribute("data-state") == "connected"
