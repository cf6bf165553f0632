"""Headless Chromium for the browser tests (test_browser.py) and the README's screenshots
(scripts/screenshots.py): Debian's `chromium`, driven by Debian's `chromedriver` through selenium,
with a fresh profile and nothing fetched from the network; and the broker they look at, with the
console, the chat and users to log in as."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# How long a test waits for the page to show something (the fade itself takes 6 s of it).
TIMEOUT = 15.0
# As root, without a sandbox; and none of Chromium's own traffic to the internet, which this
# machine's closed network refuses.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
LISTENING = re.compile(r"listening on 127\.0\.0\.1:(\d+) \((\w+) (\w+)\)")

USERS = "admin=adminpw\nviewer=viewerpw\ndave=davepw\n"
GROUPS = "admins=admin\nmonitors=viewer\n"
# admin may do anything, viewer may monitor; everyone, anonymous logins too, may chat, except
# that the `members` listener wants a login.
CONFIG = """
[auth]
users_file = "users.properties"
groups_file = "groups.properties"
anonymous = true

[[access_rule]]
deny = "anonymous"
action = "connect"
connector = "members"

[[access_rule]]
allow = "admins"
action = "*"

[[access_rule]]
allow = "monitors"
action = "connect monitor"

[[access_rule]]
allow = "*"
action = "connect"

[[access_rule]]
allow = "*"
action = "create send receive"
kind = "topic"
id = "chat.**"
"""
LISTENERS = [
    ("tcp", "tcp", ""),
    ("http", "http", ""),
    ("https", "https", 'cert = "cert.pem"\nkey = "key.pem"\n'),
    ("ws", "ws", ""),
    ("http", "members", ""),
]


@dataclass
class ChatBroker:
    """A broker serving the console and the chat over http and https (a certificate from a CA
    made for the run), STOMP over tcp and a `ws` listener, and `members`, an http listener whose
    chat needs a login."""

    broker: Any  # conftest's RunningBroker
    ports: dict[str, int]
    ca: trustme.CA

    def url(self, listener: str, path: str) -> str:
        """A page of the http or https listener named `listener`."""
        scheme = "https" if listener == "https" else "http"
        return f"{scheme}://127.0.0.1:{self.ports[listener]}{path}"

    @property
    def stomp_url(self) -> str:
        """The tcp listener, for the publishers."""
        return f"tcp://127.0.0.1:{self.ports['tcp']}"

    @property
    def ws_url(self) -> str:
        """The `ws` listener."""
        return f"ws://127.0.0.1:{self.ports['ws']}/"


def start_chat_broker(folder: Path, launcher: Callable[..., Any]) -> ChatBroker:
    """Writes the configuration, users and certificate into `folder` and starts the broker with
    `launcher` (conftest's `launch_broker`, or the fixture that stops what it starts)."""
    ca = trustme.CA()
    server = ca.issue_cert("localhost", "127.0.0.1")
    # The chain up to the CA, so a browser that trusts the CA's key finds it there.
    chain = b"".join(pem.bytes() for pem in server.cert_chain_pems) + ca.cert_pem.bytes()
    (folder / "cert.pem").write_bytes(chain)
    server.private_key_pem.write_to_path(folder / "key.pem")
    (folder / "users.properties").write_text(USERS)
    (folder / "groups.properties").write_text(GROUPS)
    listeners = "".join(
        f'\n[[listener]]\nkind = "{kind}"\nname = "{name}"\naddress = "127.0.0.1:0"\n{extra}'
        for kind, name, extra in LISTENERS
    )
    (folder / "stompbox.toml").write_text(CONFIG + listeners)
    broker = launcher(["--config", str(folder / "stompbox.toml")], listeners=len(LISTENERS))
    ports = {}
    for line in broker.listening:
        found = LISTENING.search(line)
        assert found, line
        ports[found.group(3)] = int(found.group(1))
    return ChatBroker(broker, ports, ca)


@pytest.fixture(scope="module")
def chat_broker(tmp_path_factory: pytest.TempPathFactory, module_broker_launcher: Callable[..., Any]) -> ChatBroker:
    """A module's [ChatBroker] (test modules import this fixture)."""
    return start_chat_broker(tmp_path_factory.mktemp("chat"), module_broker_launcher)


def spki_fingerprint(cert_pem: bytes) -> str:
    """The base64 SHA-256 of a certificate's public key, as Chromium's
    --ignore-certificate-errors-spki-list names the keys it trusts."""
    key = x509.load_pem_x509_certificate(cert_pem).public_key()
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@contextmanager
def chromium(trusted_cert: bytes | None = None, size: tuple[int, int] = (1280, 900)) -> Iterator[WebDriver]:
    """A headless Chromium with a fresh profile, trusting the key of `trusted_cert` (PEM: a CA the
    servers' chains carry, or a self-signed server certificate) for https; quit and its profile
    removed afterwards."""
    profile = tempfile.mkdtemp(prefix="stompbox-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}"]:
        options.add_argument(flag)
    if trusted_cert is not None:
        options.add_argument(f"--ignore-certificate-errors-spki-list={spki_fingerprint(trusted_cert)}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], Any], what: str, timeout: float = TIMEOUT) -> Any:
    """Waits until `condition` holds (returns something truthy), failing with `what`."""
    return WebDriverWait(driver, timeout).until(condition, message=f"waited {timeout}s for {what}")


def page_state(driver: WebDriver) -> str:
    """The page's `data-state` (chat: connecting, connected, disconnected, error; console:
    login, monitoring, denied, error)."""
    return driver.find_element(By.TAG_NAME, "body").get_attribute("data-state") or ""


def wait_for_state(driver: WebDriver, state: str) -> None:
    """Waits until the page is in `state`."""
    wait_for(driver, lambda d: page_state(d) == state, f"the page to be {state} (status: {status(driver)!r})")


def status(driver: WebDriver) -> str:
    """The chat's status line."""
    found = driver.find_elements(By.ID, "status")
    return found[0].text if found else ""


def join_chat(driver: WebDriver, url: str) -> None:
    """Opens the chat at `url` (its query names the nickname) and joins the room."""
    driver.get(url)
    driver.find_element(By.ID, "join-button").click()


def say(driver: WebDriver, text: str) -> None:
    """Types a message into the chat and sends it."""
    driver.find_element(By.ID, "text").send_keys(text)
    driver.find_element(By.ID, "send").click()


def messages(driver: WebDriver, list_id: str = "messages") -> list[tuple[str, str]]:
    """(sender, text) of the messages shown (`pinned` for the sticky ones), read at once by the
    page (messages come and go while the test reads)."""
    rows = driver.execute_script(
        """return [...document.querySelectorAll(`#${arguments[0]} .message`)]
            .map((m) => [m.querySelector(".sender").textContent, m.querySelector(".text").textContent]);""",
        list_id,
    )
    return [(sender, text) for sender, text in rows]


def console_login(driver: WebDriver, url: str, user: str, password: str) -> None:
    """Opens the console at `url` and logs in with its form."""
    driver.get(url)
    wait_for_state(driver, "login")
    driver.find_element(By.ID, "login-user").send_keys(user)
    driver.find_element(By.ID, "login-password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "#login button").click()
    wait_for_state(driver, "monitoring")


def table_rows(driver: WebDriver, table_id: str) -> list[list[str]]:
    """The cells' text of a console table, row by row, read at once by the page (it refreshes
    every second)."""
    return driver.execute_script(
        "return [...document.querySelectorAll(`#${arguments[0]} tbody tr`)].map((r) => [...r.cells].map((c) => c.textContent));",
        table_id,
    )


def chart_lines(driver: WebDriver, chart_id: str) -> list[int]:
    """How many points each line of a console chart has (it is redrawn every second)."""
    return driver.execute_script(
        "return [...document.querySelectorAll(`#${arguments[0]} polyline`)].map((l) => l.points.numberOfItems);",
        chart_id,
    )
