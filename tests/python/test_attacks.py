"""The hostile-client corpus (tests/attacks/cases.toml) against the real binary.

Every case is sent on fresh connections to a broker started with the case's profile, and the
broker's answer must be exactly the expected outcome (see attack_corpus.Case). The cases of all
profiles run at once, so the whole corpus takes about as long as its slowest case (those that
wait for a broker deadline of 300 ms). Afterwards every broker must still serve a normal client,
its resident memory must not have grown past RSS_GROWTH_BOUND at any point of the run, it must
have logged no panic, and it must exit cleanly. Each case's input must also be a seed of the
frame parser's fuzz corpus.
"""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest
from attack_corpus import FUZZ_CORPUS, Case, load, missing_seeds

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    # The repository's root conftest.py. Other suites have a conftest.py of their own, so it is
    # imported for type checking only; the brokers come from its fixture.
    from conftest import RunningBroker

PROFILES, CASES = load()
# A socket gives up after this long without a byte or a close from the broker: the broker hangs.
# The slowest expected answer waits for a 300 ms deadline.
HANG_TIMEOUT = 5.0
# Connections sending cases at once.
WORKERS = 32
# How often the broker's memory is sampled during the run, in seconds.
RSS_SAMPLE_EVERY = 0.01
# What a broker's resident memory may grow by during the corpus: its worker threads' allocator
# arenas and buffers kept for reuse (about 4 MiB is seen). Memory held per connection or per
# frame, or a leak, goes past it: a case runs on up to 64 connections at once.
RSS_GROWTH_BOUND = 32 * 1024 * 1024
SERVER_COMMANDS = {"CONNECTED", "MESSAGE", "RECEIPT", "ERROR"}
# Header escapes by version; CONNECTED (a handshake frame) and 1.0 escape nothing.
UNESCAPES = {
    "1.0": {},
    "1.1": {"\\\\": "\\", "\\n": "\n", "\\c": ":"},
    "1.2": {"\\\\": "\\", "\\n": "\n", "\\c": ":", "\\r": "\r"},
}


@dataclass
class Frame:
    """A frame the broker sent: command, headers (first value of each) and body."""

    command: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Observed:
    """What one connection received, and how it ended: "eof", "reset" or "hang"."""

    frames: list[Frame] = field(default_factory=list)
    ending: str = "eof"
    unparsed: bytes = b""

    def describe(self) -> str:
        frames = ", ".join(f"{f.command} {f.headers}" for f in self.frames) or "no frame"
        return f"{frames}; then {self.ending}" + (f"; unparsed {self.unparsed!r}" if self.unparsed else "")


def unescape(value: str, version: str) -> str:
    """A header name or value as sent by the broker, unescaped as `version` says."""
    table = UNESCAPES[version]
    out, position = [], 0
    while table and (backslash := value.find("\\", position)) >= 0:
        pair = value[backslash : backslash + 2]
        assert pair in table, f"the broker sent the undefined escape {pair!r} in {value!r}"
        out += [value[position:backslash], table[pair]]
        position = backslash + 2
    return "".join(out) + value[position:]


def parse_frames(data: bytes) -> tuple[list[Frame], bytes]:
    """The broker's frames in `data` (heart-beats skipped), and the bytes after the last one."""
    frames: list[Frame] = []
    version = "1.0"
    while data := data.lstrip(b"\r\n"):
        head_end = data.find(b"\n\n")
        command, *lines = data[: max(head_end, 0)].decode(errors="replace").split("\n")
        if head_end < 0 or command not in SERVER_COMMANDS:
            break
        escaping = "1.0" if command == "CONNECTED" else version
        headers: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers.setdefault(unescape(name, escaping), unescape(value, escaping))
        start = head_end + 2
        length = headers.get("content-length")
        end = start + int(length) if length is not None else data.find(b"\0", start)
        if end < 0 or len(data) <= end or data[end] != 0:
            break
        frames.append(Frame(command, headers, data[start:end]))
        version = headers.get("version", "1.0") if command == "CONNECTED" else version
        data = data[end + 1 :]
    return frames, data


def read_to_end(sock: socket.socket) -> Observed:
    """Everything the broker sends on `sock` until it closes."""
    observed = Observed()
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        observed.ending = "reset"
    except TimeoutError:
        observed.ending = "hang"
    observed.frames, observed.unparsed = parse_frames(received)
    return observed


def run_case(broker: RunningBroker, case: Case) -> list[Observed]:
    """Sends the case on its connections, then reads each until the broker closes it."""
    socks = [socket.create_connection((broker.host, broker.port), timeout=HANG_TIMEOUT) for _ in range(case.connections)]
    try:
        step = case.chunk or max(len(case.data), 1)
        for sock in socks:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for start in range(0, len(case.data), step):
                sock.sendall(case.data[start : start + step])
            if not case.keep_open:
                sock.shutdown(socket.SHUT_WR)
        return [read_to_end(sock) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def mismatch(case: Case, observed: Observed) -> str | None:
    """Why `observed` is not the case's expected outcome (None: it is)."""
    errors = [frame for frame in observed.frames if frame.command == "ERROR"]
    if observed.ending != "eof" or observed.unparsed:
        return "the broker did not answer in whole frames and then close"
    if case.expect == "error":
        if len(errors) != 1 or observed.frames[-1] is not errors[0]:
            return "expected one ERROR, as the last frame"
        if str(case.message) not in errors[0].headers.get("message", ""):
            return f"expected an ERROR message containing {case.message!r}"
        if errors[0].headers.get("code") != case.code:
            return f"expected code {case.code!r}"
        return None
    if errors:
        return f"expected no ERROR ({case.expect})"
    receipts = [frame.headers.get("receipt-id") for frame in observed.frames if frame.command == "RECEIPT"]
    if case.expect == "accepted" and case.receipt not in receipts:
        return f"expected a RECEIPT for {case.receipt!r}"
    return None


def case_problems(case: Case, observed: list[Observed]) -> list[str]:
    """Why each connection of a case did not meet its outcome."""
    return [
        f"{case.name}: {problem}; the broker sent: {one.describe()}; input: {case.data!r}"
        for one in observed
        if (problem := mismatch(case, one)) is not None
    ]


class MemoryWatch:
    """The peak resident memory of brokers while the watch runs, sampled every RSS_SAMPLE_EVERY."""

    def __init__(self, brokers: dict[str, RunningBroker]) -> None:
        self.brokers = brokers
        self.before = {name: broker.rss_bytes() for name, broker in brokers.items()}
        self.peak = dict(self.before)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def sample(self) -> None:
        while not self.done.wait(RSS_SAMPLE_EVERY):
            for name, broker in self.brokers.items():
                self.peak[name] = max(self.peak[name], broker.rss_bytes())

    def __enter__(self) -> MemoryWatch:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.done.set()
        self.thread.join()
        for name, broker in self.brokers.items():
            self.peak[name] = max(self.peak[name], broker.rss_bytes())


@dataclass
class Run:
    """The corpus's run: what each case observed, each profile's broker and its memory."""

    observed: dict[str, list[Observed]]
    brokers: dict[str, RunningBroker]
    memory: MemoryWatch


@pytest.fixture(scope="module")
def corpus_run(module_broker_factory: Callable[..., RunningBroker]) -> Iterator[Run]:
    brokers = {name: module_broker_factory(profile.config) for name, profile in PROFILES.items()}
    with MemoryWatch(brokers) as memory, ThreadPoolExecutor(WORKERS) as pool:
        futures = {case.name: pool.submit(run_case, brokers[case.profile], case) for case in CASES}
        observed = {name: future.result() for name, future in futures.items()}
    yield Run(observed, brokers, memory)
    for name, broker in brokers.items():
        code = broker.stop()
        assert code == 0, f"the {name} broker exited with {code}:\n{''.join(broker.log)}"


class Client:
    """A well-behaved client on a raw socket: sends frames, waits for what it expects."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.received = b""
        self.send(b"CONNECT\naccept-version:1.2\nhost:localhost\n\n\0")
        self.expect(b"CONNECTED\n")

    def send(self, frame: bytes) -> None:
        self.sock.sendall(frame)

    def expect(self, marker: bytes) -> None:
        """Reads until `marker` has arrived, and forgets what came up to it."""
        while marker not in self.received:
            chunk = self.sock.recv(65536)
            assert chunk, f"the broker closed the connection before {marker!r}: {self.received!r}"
            self.received += chunk
        self.received = self.received.split(marker, 1)[1]


def serves_normal_clients(broker: RunningBroker, check_queues: bool) -> None:
    """A subscriber gets what a publisher sends, on a topic and (if asked) a new queue."""
    address = (broker.host, broker.port)
    with (
        socket.create_connection(address, timeout=HANG_TIMEOUT) as subscriber_sock,
        socket.create_connection(address, timeout=HANG_TIMEOUT) as publisher_sock,
    ):
        subscriber, publisher = Client(subscriber_sock), Client(publisher_sock)
        for destination in [b"/topic/healthy"] + ([b"/queue/healthy"] if check_queues else []):
            subscriber.send(b"SUBSCRIBE\nid:%s\ndestination:%s\nreceipt:subscribed\n\n\0" % (destination, destination))
            subscriber.expect(b"receipt-id:subscribed\n")
            publisher.send(b"SEND\ndestination:%s\nreceipt:sent\n\nstill here\0" % destination)
            publisher.expect(b"receipt-id:sent\n")
            subscriber.expect(b"\n\nstill here\0")


def broker_problems(run: Run, profile: str) -> list[str]:
    """What is wrong with a profile's broker after the corpus."""
    broker, problems = run.brokers[profile], []
    try:
        serves_normal_clients(broker, PROFILES[profile].check_queues)
    except (AssertionError, OSError) as failure:
        problems.append(f"the {profile} broker no longer serves a normal client: {failure!r}")
    before, peak = run.memory.before[profile], run.memory.peak[profile]
    print(f"{profile}: RSS {before / 2**20:.1f} MiB before the corpus, at most {peak / 2**20:.1f} MiB during it")
    if peak - before >= RSS_GROWTH_BOUND:
        problems.append(f"the {profile} broker's RSS grew by {(peak - before) / 2**20:.1f} MiB")
    if any("panicked" in line for line in broker.log):
        problems.append(f"the {profile} broker panicked:\n{''.join(broker.log)}")
    return problems


def test_the_corpus_is_large_and_covers_every_outcome() -> None:
    assert len(CASES) >= 100
    assert {case.expect for case in CASES} == {"error", "accepted", "closed"}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_case(corpus_run: Run, case: Case) -> None:
    problems = case_problems(case, corpus_run.observed[case.name])
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("profile", list(PROFILES))
def test_broker_is_sound_after_the_corpus(corpus_run: Run, profile: str) -> None:
    problems = broker_problems(corpus_run, profile)
    assert not problems, "\n".join(problems)


def test_every_case_is_a_seed_of_the_fuzz_corpus() -> None:
    missing = [case.name for case in missing_seeds(PROFILES, CASES).values()]
    assert not missing, (
        f"the inputs of {missing} are not in {FUZZ_CORPUS}: "
        "run python3 tests/python/attack_corpus.py and commit the new files"
    )
