"""Differential tests: every PHP script under ``php/`` runs against one stompbox broker, once
with Debian's PECL stomp extension and once with ours; the normalized transcripts must be equal,
except for the differences listed in ``bindings-php/README.md`` (``KNOWN_DIFFERENCES``), and
equal to the checked-in ``expected/<script>.out`` (PECL's transcript).

Needs: ``php-cli`` + ``php-stomp`` (PECL), the built ``libstompbox_php.so`` and ``stompbox``
binaries (``cargo build --release -p stompbox-server -p stompbox-php``; debug builds are used
when no release build exists). Set ``UPDATE_EXPECTED=1`` to rewrite ``expected/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SCRIPTS = sorted(p for p in (HERE / "php").glob("[0-9]*.php"))

# Scripts whose transcripts differ on purpose (bindings-php/README.md, "Differences"): each
# extension's transcript is compared with its own checked-in file instead of with the other.
KNOWN_DIFFERENT = {"05_differences"}


PHP = shutil.which("php") or "php"


@pytest.fixture(scope="module", autouse=True)
def pecl_is_installed() -> None:
    """The reference: Debian's php-cli and php-stomp (scripts/test installs them)."""
    out = subprocess.run([PHP, "-n", "-d", "extension=stomp", "-r", "echo extension_loaded('stomp') ? 1 : 0;"],
                         capture_output=True, text=True)
    assert out.stdout.strip() == "1", f"PECL stomp is not loadable: {out.stderr}"


@pytest.fixture(scope="module")
def broker(session_broker) -> str:
    return session_broker.url


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_php(extension: str, script: Path, url: str, closed: int) -> str:
    env = dict(os.environ, STOMP_URL=url, STOMP_PREFIX=f"t{uuid.uuid4().hex[:8]}",
               STOMP_CLOSED_URL=f"tcp://127.0.0.1:{closed}")
    out = subprocess.run([PHP, "-n", "-d", f"extension={extension}", str(script)],
                         capture_output=True, text=True, env=env, timeout=120)
    text = out.stdout + (f"\n[stderr]\n{out.stderr}" if out.stderr else "") + f"\n[exit {out.returncode}]\n"
    text = text.replace(f"127.0.0.1:{closed}", "<closed>").replace(url.removeprefix("tcp://"), "<broker>")
    return text.replace(str(ROOT), "<root>")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_same_transcript_as_pecl(broker, php_extension, script: Path):
    closed = _closed_port()
    pecl = run_php("stomp", script, broker, closed)
    ours = run_php(str(php_extension), script, broker, closed)
    expected = HERE / "expected" / f"{script.stem}.out"
    expected_ours = HERE / "expected" / f"{script.stem}.ours.out"
    if os.environ.get("UPDATE_EXPECTED"):
        expected.write_text(pecl)
        if script.stem in KNOWN_DIFFERENT:
            expected_ours.write_text(ours)
    if script.stem in KNOWN_DIFFERENT:
        assert pecl == expected.read_text()
        assert ours == expected_ours.read_text()
        assert ours != pecl, "a listed difference disappeared: update README and KNOWN_DIFFERENT"
        return
    assert ours == pecl
    if expected.exists():
        assert pecl == expected.read_text(), "PECL's transcript changed (the broker's behaviour changed?)"


@pytest.mark.parametrize("extension", ["pecl", "stompbox"])
def test_seed_scenario(broker, php_extension, extension: str):
    """examples/php/send.php publishes two messages; examples/php/subscribe.php gets both."""
    ext = "stomp" if extension == "pecl" else str(php_extension)
    env = dict(os.environ, STOMP_URL=broker, TIMEOUT="5")
    examples = ROOT / "examples" / "php"
    sub = subprocess.Popen([PHP, "-n", "-d", f"extension={ext}", str(examples / "subscribe.php")],
                           stdout=subprocess.PIPE, text=True, env=env)
    assert sub.stdout is not None
    assert sub.stdout.readline() == "subscribed\n"
    send = subprocess.run([PHP, "-n", "-d", f"extension={ext}", str(examples / "send.php")],
                          capture_output=True, text=True, env=env, timeout=30)
    assert send.returncode == 0, send.stderr
    rest, _ = sub.communicate(timeout=30)
    assert rest.splitlines() == ["hello from PHP", "sticky: read me first"]
