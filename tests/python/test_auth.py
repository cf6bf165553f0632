"""Users, groups and access rules with the real binary: `stompbox passwd`, the seed's example
through stomp.py, add_user_header, the plain-password warning, and SIGHUP reloads."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import stomp
from test_stomppy import TIMEOUT, Inbox

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GROUPS = (EXAMPLES / "auth" / "groups.properties").read_text()
# The seed's rules, as examples/auth/stompbox.toml (and the README) give them: the tables that
# end the file.
SEED_RULES = "[[access_rule]]" + (EXAMPLES / "auth" / "stompbox.toml").read_text().partition("\n[[access_rule]]")[2]


def passwd(binary: Path, users: Path, user: str, typed: str) -> subprocess.CompletedProcess[str]:
    """`stompbox passwd USER --file USERS`, typing `typed` on standard input."""
    return subprocess.run(
        [binary, "passwd", user, "--file", users], input=typed, capture_output=True, text=True, timeout=60
    )


@pytest.fixture(name="instance")
def instance_fixture(tmp_path: Path, broker_binary: Path) -> Path:
    """A directory with users.properties (app1's password hashed by `stompbox passwd`, the
    others plain) and groups.properties."""
    users = tmp_path / "users.properties"
    users.write_text("# the seed's users\nmtchang=m-pw\nadmin=a-pw\ndemo=d-pw\n")
    assert passwd(broker_binary, users, "app1", "app1-pw\napp1-pw\n").returncode == 0
    (tmp_path / "groups.properties").write_text(GROUPS)
    return tmp_path


def config(instance: Path, rules: str = SEED_RULES, extra: str = "") -> str:
    return (
        f'[auth]\nusers_file = "{instance / "users.properties"}"\n'
        f'groups_file = "{instance / "groups.properties"}"\n{extra}\n{rules}'
    )


def connect(broker, user: str, password: str, listener: Inbox | None = None) -> stomp.Connection12:
    connection = stomp.Connection12([(broker.host, broker.port)])
    if listener is not None:
        connection.set_listener("inbox", listener)
    connection.connect(user, password, wait=True)
    return connection


def config_path(broker) -> Path:
    """The configuration file the broker was started with."""
    args = [str(arg) for arg in broker.process.args]
    return Path(args[args.index("--config") + 1])


def wait_for_log(broker, *needles: str) -> None:
    """Waits for a log line containing every one of `needles` (the broker's own report of an
    event; the log reaches the test through a pipe, a little after the event)."""
    deadline = time.monotonic() + TIMEOUT
    while not any(all(needle in line for needle in needles) for line in list(broker.log)):
        assert time.monotonic() < deadline, f"no {needles!r} in the log: {''.join(broker.log)}"
        time.sleep(0.01)


def test_passwd_stores_a_hash_and_keeps_the_other_lines(tmp_path: Path, broker_binary: Path):
    users = tmp_path / "users.properties"
    users.write_text("# comment\nadmin=password\n")
    result = passwd(broker_binary, users, "demo", "s3cret\ns3cret\n")
    assert result.returncode == 0, result.stderr
    lines = users.read_text().splitlines()
    assert lines[:2] == ["# comment", "admin=password"]
    assert lines[2].startswith("demo=$argon2id$v=19$")
    assert "s3cret" not in users.read_text() + result.stdout + result.stderr
    before = users.read_text()
    result = passwd(broker_binary, users, "demo", "one\ntwo\n")
    assert result.returncode == 1
    assert "differ" in result.stderr
    assert users.read_text() == before, "nothing changed"


def test_the_seeds_example_with_stomp_py(broker_factory, instance: Path):
    broker = broker_factory(config(instance, extra='add_user_header = "sender"'))
    plain = [line for line in broker.log if "plain-text passwords" in line]
    assert plain and "admin, demo, mtchang" in plain[0], "the warning names the users"
    assert "d-pw" not in "".join(broker.log), "and never their passwords"
    inbox = Inbox()
    demo = connect(broker, "demo", "d-pw", inbox)
    demo.subscribe("/topic/chat.general.demo", id="0", ack="auto", headers={"receipt": "sub"})
    app1 = connect(broker, "app1", "app1-pw")
    app1.send("/topic/chat.general.demo", "hello", headers={"sender": "mtchang"})
    message = inbox.messages.get(timeout=TIMEOUT)
    assert message.body == "hello"
    assert message.headers["sender"] == "app1", "the broker's value, not the forged one"
    demo.send("/topic/chat.general.demo", "may I?")
    error = inbox.errors.get(timeout=TIMEOUT)
    assert error.headers["code"] == "access-denied"
    assert error.headers["message"] == "access denied: demo may not send /topic/chat.general.demo"
    app1.disconnect()


def test_a_wrong_password_is_refused_without_saying_which_half(broker_factory, instance: Path):
    broker = broker_factory(config(instance))
    for user, password in [("app1", "wrong"), ("ghost", "app1-pw")]:
        with pytest.raises(stomp.exception.ConnectFailedException):
            connect(broker, user, password)
    wait_for_log(broker, "login refused", "127.0.0.1", "ghost")


def test_sighup_reloads_rules_and_groups_without_dropping_connections(broker_factory, instance: Path):
    broker = broker_factory(config(instance))
    inbox = Inbox()
    demo = connect(broker, "demo", "d-pw", inbox)
    demo.subscribe("/topic/chat.general", id="room", ack="auto")
    app1_inbox = Inbox()
    app1 = connect(broker, "app1", "app1-pw", app1_inbox)
    app1.subscribe("/topic/chat.general", id="room", ack="auto")
    # New rules: users may no longer receive chat rooms. New groups: admin joins users.
    stricter = '[[access_rule]]\ndeny = "users"\naction = "receive"\nid = "chat.**"\n' + SEED_RULES
    config_path(broker).write_text(config(instance, stricter))
    (instance / "groups.properties").write_text(GROUPS + "users=demo|admin\n")
    broker.process.send_signal(signal.SIGHUP)
    error = inbox.errors.get(timeout=TIMEOUT)
    assert error.headers["code"] == "access-denied"
    assert "demo may not receive /topic/chat.general (subscription room)" in error.headers["message"]
    app1.send("/topic/chat.general", "still connected")
    assert app1_inbox.messages.get(timeout=TIMEOUT).body == "still connected"
    admin_inbox = Inbox()
    admin = connect(broker, "admin", "a-pw", admin_inbox)  # in `users` now: may consume
    admin.subscribe("/queue/jobs", id="jobs", ack="auto")
    app1.send("/queue/jobs", "for a monitor")
    assert admin_inbox.messages.get(timeout=TIMEOUT).body == "for a monitor"
    app1.disconnect()


def test_a_bad_file_on_sighup_keeps_the_rules_in_force(broker_factory, instance: Path):
    broker = broker_factory(config(instance))
    (instance / "users.properties").write_text("demo=$argon2id$broken\n")
    broker.process.send_signal(signal.SIGHUP)
    wait_for_log(broker, "reload failed")
    app1 = connect(broker, "app1", "app1-pw")
    app1.send("/topic/chat.general", "unchanged", headers={"receipt": "r"})
    app1.disconnect()


def test_the_auth_example_runs_as_written(broker_factory):
    """examples/auth/stompbox.toml with the Python examples: app1 publishes, demo subscribes."""
    example = EXAMPLES / "auth"
    text = (example / "stompbox.toml").read_text()
    for name in ("users.properties", "groups.properties"):
        # The broker is started from a copy of the file elsewhere: name the example's files.
        text = text.replace(f'"{name}"', f'"{example / name}"')
    broker = broker_factory(text)
    env = {**os.environ, "STOMP_URL": broker.url, "TIMEOUT": "2"}
    demo = {**env, "STOMP_USER": "demo", "STOMP_PASS": "change-me-demo"}
    subscriber = subprocess.Popen(
        [sys.executable, EXAMPLES / "python" / "subscribe.py"], stdout=subprocess.PIPE, text=True, env=demo
    )
    assert subscriber.stdout is not None
    assert subscriber.stdout.readline() == "subscribed\n"
    app1 = {**env, "STOMP_USER": "app1", "STOMP_PASS": "change-me-app1"}
    sent = subprocess.run(
        [sys.executable, EXAMPLES / "python" / "send.py"], capture_output=True, text=True, env=app1, timeout=30
    )
    assert sent.returncode == 0, sent.stderr
    rest, _ = subscriber.communicate(timeout=30)
    subscriber.stdout.close()
    assert rest.splitlines() == ["hello from Python", "sticky: read me first"]
    as_demo = subprocess.run(
        [sys.executable, EXAMPLES / "python" / "send.py"], capture_output=True, text=True, env=demo, timeout=30
    )
    assert as_demo.returncode != 0
    assert "demo may not send /topic/chat.general.demo" in as_demo.stderr
