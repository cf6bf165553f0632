"""The README's promises, checked: its raw session is what a fresh broker prints, and its list of
the packages `scripts/test` installs is the script's own."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SCRIPTS_TEST = ROOT / "scripts" / "test"

# How the console block writes the NUL that ends a frame, the client's and the broker's alike.
NUL_LINE = "^@"
# Commands only a broker sends; every other frame in the session is the client's.
BROKER_COMMANDS = {"CONNECTED", "MESSAGE", "RECEIPT", "ERROR"}
# Header values that differ from one broker run to the next, so the README can only show an
# example: `session` starts with the broker's start time (in hex seconds). Nothing else in the
# session varies: a fresh broker numbers sessions and messages from one counter starting at 1
# (so the README's first message is `message-id:2`), and the server version and heart-beat offer
# are the defaults.
VARIES_BY_RUN = {"session"}


@dataclass(frozen=True)
class Frame:
    """A STOMP frame as the test compares it: command, headers in wire order, body."""

    command: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def with_run_values_masked(self) -> Frame:
        """The frame with the values in VARIES_BY_RUN replaced (the headers themselves stay)."""
        headers = tuple(
            (name, "<varies by run>" if name in VARIES_BY_RUN else value) for name, value in self.headers
        )
        return Frame(self.command, headers, self.body)


def parse_frame(data: bytes) -> tuple[Frame, bytes] | None:
    """The first frame in `data` and the bytes after it, or None while it is incomplete. Leading
    end-of-lines (heart-beats, or the LF after a NUL) are skipped; `content-length` is honoured."""
    data = data.lstrip(b"\r\n")
    head_end = data.find(b"\n\n")
    if head_end < 0:
        return None
    command, *lines = data[:head_end].decode().split("\n")
    headers = tuple((name, value) for name, _, value in (line.partition(":") for line in lines))
    start = head_end + 2
    length = dict(headers).get("content-length")
    end = start + int(length) if length is not None else data.find(b"\0", start)
    if end < 0 or len(data) <= end:
        return None
    assert data[end] == 0, f"no NUL after the {command} body: {data!r}"
    return Frame(command, headers, data[start:end]), data[end + 1 :]


@dataclass(frozen=True)
class Step:
    """One frame of the README's session: what the client types, or what the broker answers."""

    frame: Frame
    wire: bytes

    @property
    def from_broker(self) -> bool:
        """Whether the broker sends this frame (else the client does)."""
        return self.frame.command in BROKER_COMMANDS


def readme_session() -> tuple[str, list[Step]]:
    """The `nc` command line and the frames of the console block under "Quick start with a raw
    session". A `^@` line ends each frame; typed in a terminal it sends NUL and LF."""
    text = README.read_text()
    section = text.split("## Quick start with a raw session", 1)[1]
    block = re.search(r"```console\n(.*?)```", section, re.S)
    assert block, "no ```console block after the Quick start heading"
    command, *lines = block.group(1).splitlines()
    steps: list[Step] = []
    typed: list[str] = []
    for line in lines:
        if line != NUL_LINE:
            typed.append(line)
            continue
        wire = ("\n".join(typed) + "\n").encode() + b"\0\n"
        parsed = parse_frame(wire)
        assert parsed is not None, f"not a frame: {typed}"
        steps.append(Step(parsed[0], wire))
        typed = []
    assert not typed, f"lines after the last {NUL_LINE}: {typed}"
    return command, steps


class FrameReader:
    """Frames read from a socket, one at a time."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def next_frame(self) -> Frame:
        while (parsed := parse_frame(self.buffer)) is None:
            chunk = self.sock.recv(65536)
            assert chunk, f"the broker closed the connection; unread: {self.buffer!r}"
            self.buffer += chunk
        frame, self.buffer = parsed
        return frame

    def unread(self, wait: float) -> bytes:
        """What arrives within `wait` seconds beyond the frames read (end-of-lines aside)."""
        self.sock.settimeout(wait)
        try:
            self.buffer += self.sock.recv(65536)
        except TimeoutError:
            pass
        return self.buffer.lstrip(b"\r\n")


def test_readme_raw_session_is_what_a_fresh_broker_prints(broker) -> None:
    command, steps = readme_session()
    assert command == "$ nc 127.0.0.1 61613", "the session should use the default listener"
    assert any(step.from_broker for step in steps), "the session shows nothing from the broker"
    with socket.create_connection((broker.host, broker.port), timeout=10) as sock:
        reader = FrameReader(sock)
        for step in steps:
            if not step.from_broker:
                sock.sendall(step.wire)
                continue
            got = reader.next_frame()
            for name in VARIES_BY_RUN & {name for name, _ in step.frame.headers}:
                assert dict(got.headers).get(name), f"{got.command} has no {name} value: {got}"
            assert got.with_run_values_masked() == step.frame.with_run_values_masked()
        assert reader.unread(0.3) == b"", "the broker sent more than the README shows"


def readme_apt_packages() -> list[str]:
    """The packages the README says `scripts/test` installs with apt-get."""
    found = re.search(r"It installs `([^`]*)` with apt-get", README.read_text())
    assert found, "the README no longer says what scripts/test installs with apt-get"
    return found.group(1).split()


def test_readme_names_the_apt_packages_scripts_test_installs() -> None:
    script = SCRIPTS_TEST.read_text()
    listed = re.search(r"^apt_packages=\(([^)]*)\)$", script, re.M)
    assert listed, "scripts/test no longer has an apt_packages=(...) line"
    assert readme_apt_packages() == listed.group(1).split()
    # Packages added only when something is missing, e.g. python3-venv for Debian's own python3.
    readme = README.read_text()
    for extra in re.findall(r"missing\+=\(([\w.+-]+)\)", script):
        assert f"`{extra}`" in readme, f"scripts/test may install {extra}; the README does not say so"
