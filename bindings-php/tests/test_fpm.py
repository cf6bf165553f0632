"""PHP-FPM: the extension in a long-lived worker that serves request after request.

A real ``php-fpm8.2`` (Debian ``php-fpm``, not the service: ``-n -F -y <conf>`` with its pid, log
and socket in a temporary directory, ``pm = static``) runs the request scripts of ``fpm/``
through FastCGI (``cgi-fcgi`` from ``libfcgi-bin``), in a fixed sequence, once with PECL's
``stomp`` and once with ours, with one worker (every request hits the same process) and with
two. Each request prints one JSON line (``fpm/_common.php``); checked for each request:

1. a full round trip works (connect, subscribe, send, read, ack: ``roundtrip.php``), and every
   connection a request opened is closed when it ends, explicitly or not: the broker logs
   ``connection closed ... reason=client sent DISCONNECT`` for its session before the next
   request is sent;
2. ``stomp_connect_error()`` set by a failed connect is NULL in the next request (PECL clears
   it at request startup: what it keeps is per request, not per process);
3. a connection left open in a global, a static variable, a garbage cycle or a resource is
   closed with DISCONNECT at the end of the request (``leak.php``): the next request starts
   with no ``stomp connection`` resource and gets the message the first one left
   unacknowledged redelivered (``drain.php``), which the broker does only once that
   subscriber is gone;
4. the workers survive: same pids before and after, every request served by one of them, no
   "exited on signal" / "exited with code" in php-fpm's log;
5. a burst of sends without receipts, left to the end of the request (``burst.php``), all
   arrive in order (``burst_count.php``), and once the requests are done no worker has a
   ``stompbox-writer`` thread: the buffered path's thread ends with the request's connection;

and both extensions give the same responses (pids, sessions and the run's names masked).

One difference is asserted: after a fatal error (``fatal.php``, destructors skipped) ours still
closes the socket (the broker logs "peer closed the connection"), while PECL 2.0.3 leaves that
connection open in the worker for as long as the worker lives; that case is not compared.

Needs ``php-fpm`` and ``libfcgi-bin`` (scripts/test installs them), ``php-stomp`` and the built
``libstompbox_php.so``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import pytest

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE / "fpm"
EXTENSIONS = ("pecl", "stompbox")
DEADLINE = 5.0  # seconds to wait for an event (php-fpm ready, a broker log line)

# (script, query options) in the order the requests are sent; `n` (the index) is added.
SEQUENCE: list[tuple[str, dict[str, str]]] = [
    ("roundtrip.php", {"style": "oop", "close": "none"}),
    ("roundtrip.php", {"style": "procedural", "close": "none"}),
    ("roundtrip.php", {"style": "oop", "close": "explicit"}),
    ("roundtrip.php", {"style": "procedural", "close": "explicit"}),
    ("connect_error.php", {"how": "procedural"}),
    ("connect_error.php", {"how": "none"}),
    ("connect_error.php", {"how": "oop"}),
    ("connect_error.php", {"how": "fail_then_ok"}),
    ("connect_error.php", {"how": "none"}),
    ("leak.php", {"keep": "global"}),
    ("drain.php", {}),
    ("leak.php", {"keep": "static"}),
    ("drain.php", {}),
    ("leak.php", {"keep": "cycle"}),
    ("drain.php", {}),
    ("leak.php", {"keep": "resource"}),
    ("drain.php", {}),
    ("burst.php", {}),
    ("burst_count.php", {}),
    ("fatal.php", {}),
    ("roundtrip.php", {"style": "oop", "close": "none"}),
]
CLOSED_BY_DISCONNECT = "client sent DISCONNECT"
CLOSED_BY_PEER = "peer closed the connection"


def php_fpm() -> str:
    for name in ("php-fpm8.2", "php-fpm"):
        found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
        if found:
            return found
    pytest.fail("php-fpm is not installed: apt-get install php-fpm (scripts/test does)")


def cgi_fcgi() -> str:
    found = shutil.which("cgi-fcgi")
    if not found:
        pytest.fail("cgi-fcgi is not installed: apt-get install libfcgi-bin (scripts/test does)")
    return found


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def thread_names(pid: int) -> list[str]:
    """The names of process `pid`'s threads, from /proc."""
    names = []
    for comm in Path(f"/proc/{pid}/task").glob("*/comm"):
        try:
            names.append(comm.read_text().strip())
        except OSError:
            continue  # gone meanwhile
    return names


def children_of(pid: int) -> set[int]:
    """The processes whose parent is `pid` (php-fpm's workers), from /proc."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # gone meanwhile
        # pid (comm) state ppid ...: comm may hold spaces and parentheses.
        if int(text[text.rindex(")") + 2:].split()[1]) == pid:
            found.add(int(stat.parent.name))
    return found


@dataclass
class Response:
    headers: dict[str, str]
    body: str

    def result(self) -> dict:
        """The JSON line the script printed (the last line that is one)."""
        for line in reversed(self.body.splitlines()):
            if line.startswith("{"):
                return json.loads(line)
        raise AssertionError(f"no JSON result in the response:\n{self.body}")


@dataclass
class Fpm:
    """A php-fpm master (foreground) with its pool listening on a unix socket in `workdir`."""

    process: subprocess.Popen[bytes]
    workdir: Path
    params: dict[str, str]
    workers: set[int] = field(default_factory=set)

    @property
    def socket(self) -> Path:
        return self.workdir / "fpm.sock"

    @property
    def log_path(self) -> Path:
        return self.workdir / "fpm.log"

    def log(self) -> str:
        text = self.log_path.read_text() if self.log_path.exists() else ""
        out = self.workdir / "fpm.out"
        return text + (out.read_text() if out.exists() else "")

    def request(self, script: str, query: dict[str, str]) -> Response:
        env = {
            "SCRIPT_FILENAME": str(SCRIPTS / script),
            "SCRIPT_NAME": f"/{script}",
            "REQUEST_METHOD": "GET",
            "QUERY_STRING": urlencode(query),
            **self.params,
        }
        out = subprocess.run([cgi_fcgi(), "-bind", "-connect", str(self.socket)], env=env,
                             capture_output=True, timeout=15)
        assert out.returncode == 0 and out.stdout, (
            f"{script}?{urlencode(query)}: cgi-fcgi exited {out.returncode}: {out.stderr!r}\n{self.log()}")
        text = out.stdout.decode()
        head, sep, body = text.replace("\r\n", "\n").partition("\n\n")
        assert sep, f"{script}: no header/body separator in {text!r}"
        headers = dict(line.split(": ", 1) for line in head.splitlines())
        return Response(headers, body)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: finish requests, then exit
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_fpm(extension: str, children: int, workdir: Path, params: dict[str, str]) -> Fpm:
    config = workdir / "fpm.conf"
    config.write_text(f"""\
[global]
pid = {workdir}/fpm.pid
error_log = {workdir}/fpm.log
daemonize = no
log_level = notice

[stomp]
listen = {workdir}/fpm.sock
pm = static
pm.max_children = {children}
catch_workers_output = yes
""")
    args = [php_fpm(), "-n", "-F", "-y", str(config), "-d", f"extension={extension}",
            "-d", "display_errors=1", "-d", "html_errors=0", "-d", "log_errors=0"]
    if os.geteuid() == 0:
        args.append("-R")  # run the workers as root (no `user` in the pool)
    with open(workdir / "fpm.out", "wb") as out:
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    fpm = Fpm(process, workdir, params)
    deadline = time.monotonic() + DEADLINE
    while True:
        workers = children_of(process.pid)
        if "ready to handle connections" in fpm.log() and len(workers) == children:
            fpm.workers = workers
            return fpm
        if process.poll() is not None or time.monotonic() > deadline:
            fpm.stop()
            pytest.fail(f"php-fpm did not start {children} worker(s) (exit {process.poll()}, "
                        f"workers {workers}):\n{fpm.log()}")
        time.sleep(0.01)


def wait_closed(broker, session: str, timeout: float = DEADLINE) -> str | None:
    """The reason of the broker's `connection closed` line for `session`, or None after timeout."""
    # The connection's span carries its session: `connection{session="..." peer=...}: ...`.
    pattern = re.compile(rf'connection\{{session="{re.escape(session)}" .*connection closed reason=(.*)$')
    deadline = time.monotonic() + timeout
    while True:
        for line in list(broker.log):
            found = pattern.search(line.rstrip("\n"))
            if found:
                return found.group(1)
        if time.monotonic() > deadline:
            return None
        time.sleep(0.01)


@dataclass
class Request:
    n: int
    script: str
    query: dict[str, str]
    response: Response
    result: dict
    closes: dict[str, str | None]  # session -> the broker's close reason

    @property
    def name(self) -> str:
        return f"#{self.n} {self.script}?{urlencode(self.query)}"


@dataclass
class Run:
    extension: str
    children: int
    params: dict[str, str]
    workers_before: set[int]
    workers_after: set[int]
    requests: list[Request]
    log: str
    threads_after: dict[int, list[str]]  # worker pid -> its threads' names, after the requests


def expected_close(extension: str, script: str) -> str | None:
    if script != "fatal.php":
        return CLOSED_BY_DISCONNECT
    # No destructor runs after a fatal error: ours drops the object, which closes the socket;
    # PECL 2.0.3 leaves the connection open in the worker (not waited for).
    return CLOSED_BY_PEER if extension == "stompbox" else None


def run_sequence(extension: str, children: int, so: str, broker) -> Run:
    workdir = Path(tempfile.mkdtemp(prefix="stompbox-fpm-"))  # short: unix socket paths are limited
    params = {
        "STOMP_URL": broker.url,
        "STOMP_CLOSED_URL": f"tcp://127.0.0.1:{closed_port()}",
        "STOMP_PREFIX": f"fpm{uuid.uuid4().hex[:8]}",
    }
    try:
        fpm = start_fpm(so, children, workdir, params)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    try:
        requests = []
        for n, (script, options) in enumerate(SEQUENCE):
            query = {"n": str(n), **options}
            response = fpm.request(script, query)
            result = response.result()
            closes = {}
            for session in result.get("sessions", []):
                # Wait for the close before the next request: "closed when the request ends".
                expected = expected_close(extension, script)
                closes[session] = wait_closed(broker, session) if expected else None
            requests.append(Request(n, script, query, response, result, closes))
            if None in closes.values() and expected_close(extension, script):
                break  # a connection outlived its request: reported by test_fpm_requests
        workers_after = children_of(fpm.process.pid)
        threads_after = {pid: thread_names(pid) for pid in workers_after}
        log = fpm.log()
    finally:
        fpm.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return Run(extension, children, params, fpm.workers, workers_after, requests, log, threads_after)


@pytest.fixture(scope="module", autouse=True)
def tools_are_installed() -> None:
    php_fpm()
    cgi_fcgi()


@pytest.fixture(scope="module")
def fpm_run(session_broker, php_extension) -> Iterator[Callable[[str, int], Run]]:
    """Runs SEQUENCE under an extension with a number of workers, once per module."""
    runs: dict[tuple[str, int], Run] = {}
    so = {"pecl": "stomp", "stompbox": str(php_extension)}

    def get(extension: str, children: int) -> Run:
        if (extension, children) not in runs:
            runs[extension, children] = run_sequence(extension, children, so[extension], session_broker)
        return runs[extension, children]

    yield get


def check_request(run: Run, request: Request) -> None:
    """What every request of SEQUENCE must show, under either extension."""
    r, n, query = request.result, request.n, request.query
    prefix = run.params["STOMP_PREFIX"]
    closed = run.params["STOMP_CLOSED_URL"].removeprefix("tcp://")
    assert r["extension"] == run.extension, "php-fpm loaded the wrong extension"
    assert r["pid"] in run.workers_before, f"served by {r['pid']}, not one of the workers {run.workers_before}"
    assert r["at_start"] == {"connect_error": None, "open_resources": 0}, "state left by an earlier request"
    for session in r.get("sessions", []):
        assert session, "no session id"
        expected = expected_close(run.extension, request.script)
        if expected:
            assert request.closes[session] == expected, (
                f"the broker did not log 'connection closed ... reason={expected}' for session "
                f"{session} within {DEADLINE}s of the response (got {request.closes[session]!r})")
    if request.script == "roundtrip.php":
        queue = f"/queue/{prefix}.roundtrip"
        assert r["received"] == ["MESSAGE", queue, f"message {n}", "false"], "round trip: not our message back"
        assert (r["subscribed"], r["sent"], r["acked"], r["more"]) == (True, True, True, False)
    elif request.script == "connect_error.php":
        error = f"Unable to connect to {closed}"
        how = query["how"]
        assert r["connect_error"] == (None if how == "none" else error)
        assert r["result"] == {
            "procedural": False,
            "oop": ["StompException", error, "Operation now in progress"],
            "fail_then_ok": [False, True],
            "none": None,
        }[how]
    elif request.script == "leak.php":
        assert r["sent"] is True
        assert r["received"] == ["MESSAGE", f"/queue/{prefix}.leak", f"leaked {n}", "false"]
    elif request.script == "drain.php":
        assert r["received"] == ["MESSAGE", f"/queue/{prefix}.leak", f"leaked {n - 1}", "true"], (
            "the message the previous request left unacknowledged was not redelivered: "
            "its connection is still open")
        assert (r["acked"], r["more"]) == (True, False)
    elif request.script == "burst.php":
        assert r["sent"] is True
    elif request.script == "burst_count.php":
        assert r["in_order"] == 2000, "messages sent without receipts were lost at the end of the request"
    elif request.script == "fatal.php":
        assert "Fatal error: fatal error with a connection open" in request.response.body


@pytest.mark.parametrize("children", [1, 2])
@pytest.mark.parametrize("extension", EXTENSIONS)
def test_fpm_requests(fpm_run, extension: str, children: int):
    run = fpm_run(extension, children)
    for request in run.requests:
        try:
            check_request(run, request)
        except AssertionError as err:
            raise AssertionError(f"{extension}, {children} worker(s), request {request.name}: {err}\n"
                                 f"response: {request.response.body}") from err
    assert len(run.requests) == len(SEQUENCE)
    if children == 1:
        pids = {request.result["pid"] for request in run.requests}
        assert len(pids) == 1, f"one worker, but requests were served by {pids}"
    assert run.workers_after == run.workers_before, (
        f"workers changed from {run.workers_before} to {run.workers_after}:\n{run.log}")
    for pid, names in run.threads_after.items():
        assert "stompbox-writer" not in names, f"worker {pid} kept a writer thread after its requests: {names}"
    for bad in ("exited on signal", "exited with code", "SIGSEGV", "ERROR:"):
        assert bad not in run.log, f"php-fpm log has {bad!r}:\n{run.log}"


def normalized(run: Run) -> list[str]:
    """Each response as text, with what differs between runs masked."""
    masks = {run.params["STOMP_PREFIX"]: "<prefix>",
             run.params["STOMP_CLOSED_URL"].removeprefix("tcp://"): "<closed>",
             str(SCRIPTS): "<dir>"}
    out = []
    for request in run.requests:
        result = dict(request.result, pid="<pid>", extension="<extension>",
                      sessions=["<session>" for _ in request.result.get("sessions", [])])
        body = request.response.body
        for line in body.splitlines():
            if line.startswith("{"):
                body = body.replace(line, json.dumps(result, sort_keys=True))
        for text, mask in masks.items():
            body = body.replace(text, mask)
        status = request.response.headers.get("Status", "200")
        out.append(f"{request.name}: {status}\n{body}")
    return out


@pytest.mark.parametrize("children", [1, 2])
def test_fpm_same_responses(fpm_run, children: int):
    """Every request gives the same response under PECL and ours."""
    pecl, ours = fpm_run("pecl", children), fpm_run("stompbox", children)
    assert normalized(ours) == normalized(pecl)
