"""Differential tests: PHP's own ``run-tests.php`` runs every ``phpt/*.phpt`` twice against one
stompbox broker (a tcp and a tls listener, its certificate from a CA made per run with
``trustme``), once with Debian's PECL stomp extension and once with ours; every test must PASS
under both, i.e. both extensions print the checked-in ``--EXPECT--`` transcript (PECL's).

The listed differences (``bindings-php/README.md``) are ``*-pecl.phpt`` / ``*-stompbox.phpt``
pairs: each holds its extension's transcript and must be skipped under the other extension.

Needs: ``php-cli``, ``php-dev`` (``run-tests.php``) and ``php-stomp`` (PECL), the built
``libstompbox_php.so`` and ``stompbox`` binaries (``cargo build --release -p stompbox-server -p
stompbox-php``; debug builds are used when no release build exists).
``UPDATE_EXPECTED=1`` rewrites the ``--EXPECT--`` section of every failing test from the actual
output (PECL's; ours for ``*-stompbox.phpt``), then runs everything again.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PHPT_DIR = HERE / "phpt"
TESTS = sorted(PHPT_DIR.glob("*.phpt"))
EXTENSIONS = ("pecl", "stompbox")
PHP = shutil.which("php") or "php"
EXPECT = re.compile(r"^--EXPECT--\n.*\Z", re.MULTILINE | re.DOTALL)


def only_for(test: Path) -> str | None:
    """The extension a ``NAME-<extension>.phpt`` test is written for (None: both)."""
    suffix = test.stem.rpartition("-")[2]
    return suffix if suffix in EXTENSIONS else None


def run_tests_php() -> Path:
    """php-dev's run-tests.php for the php in use: ``<extension_dir>/build/run-tests.php``."""
    ext_dir = subprocess.run([PHP, "-n", "-r", "echo PHP_EXTENSION_DIR;"], capture_output=True,
                             text=True, check=True).stdout
    path = Path(ext_dir) / "build" / "run-tests.php"
    assert path.is_file(), f"{path} is missing: install php-dev"
    return path


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PhptBroker:
    """The broker the .phpt tests run against."""

    url: str  # tcp://127.0.0.1:PORT
    tls: str  # 127.0.0.1:PORT of its tls listener
    ca: Path  # the CA file its certificate chains to


@dataclass
class Run:
    """One run-tests.php run over a copy of ``phpt/`` (its .out/.diff files stay in ``workdir``)."""

    extension: str
    workdir: Path
    status: dict[str, str] = field(repr=False)  # test stem -> PASSED, FAILED, SKIPPED, BORKED...
    output: str = field(repr=False)

    def report(self, test: Path) -> str:
        diff = self.workdir / f"{test.stem}.diff"
        details = diff.read_text() if diff.exists() else self.output[-3000:]
        return f"{test.name} under {self.extension}: {self.status.get(test.stem, 'not run')}\n{details}"


def run_phpt(extension: str, so: str, broker: PhptBroker, workdir: Path) -> Run:
    shutil.rmtree(workdir, ignore_errors=True)
    shutil.copytree(PHPT_DIR, workdir)
    results = workdir.with_suffix(".results")
    env = dict(os.environ, NO_INTERACTION="1", STOMP_URL=broker.url, STOMP_TLS=broker.tls, STOMP_CA=str(broker.ca),
               STOMP_CLOSED_URL=f"tcp://127.0.0.1:{_closed_port()}",
               STOMP_PREFIX=f"t{uuid.uuid4().hex[:8]}")
    out = subprocess.run(
        [PHP, "-n", str(run_tests_php()), "-q", "-n", "-d", f"extension={so}", "-p", PHP,
         "-W", str(results), "--show-diff", "--no-color", "--no-progress", str(workdir)],
        capture_output=True, text=True, env=env, timeout=600)
    status = {}
    for line in results.read_text().splitlines() if results.exists() else []:
        result, _, path = line.partition("\t")
        status[Path(path).stem] = result
    return Run(extension, workdir, status, out.stdout + out.stderr)


def update_expected(runs: dict[str, Run]) -> None:
    """Rewrites the --EXPECT-- section of each failed test from its actual output."""
    for test in TESTS:
        actual = runs[only_for(test) or "pecl"].workdir / f"{test.stem}.out"
        if actual.exists():
            text = test.read_text()
            assert EXPECT.search(text), f"{test.name}: --EXPECT-- must be the last section"
            test.write_text(EXPECT.sub(lambda _: f"--EXPECT--\n{actual.read_text()}\n", text))


@pytest.fixture(scope="module", autouse=True)
def pecl_is_installed() -> None:
    """The reference: Debian's php-cli and php-stomp (scripts/test installs them)."""
    out = subprocess.run([PHP, "-n", "-d", "extension=stomp", "-r", "echo extension_loaded('stomp') ? 1 : 0;"],
                         capture_output=True, text=True)
    assert out.stdout.strip() == "1", f"PECL stomp is not loadable: {out.stderr}"


@pytest.fixture(scope="module")
def broker(module_broker_launcher, tls_files, tmp_path_factory) -> PhptBroker:
    folder = tmp_path_factory.mktemp("tls")
    tls = tls_files(folder, "localhost", "127.0.0.1")
    (folder / "stompbox.toml").write_text(
        '[[listener]]\nkind = "tcp"\naddress = "127.0.0.1:0"\n'
        '[[listener]]\nkind = "tls"\naddress = "127.0.0.1:0"\ncert = "cert.pem"\nkey = "key.pem"\n'
    )
    running = module_broker_launcher(["--config", str(folder / "stompbox.toml")], listeners=2)
    return PhptBroker(running.url, f"127.0.0.1:{running.ports()['tls']}", tls.ca_file)


@pytest.fixture(scope="module")
def phpt_runs(broker, php_extension, tmp_path_factory) -> dict[str, Run]:
    base = tmp_path_factory.mktemp("phpt")
    so = {"pecl": "stomp", "stompbox": str(php_extension)}

    def run_all() -> dict[str, Run]:
        return {ext: run_phpt(ext, so[ext], broker, base / ext) for ext in EXTENSIONS}

    runs = run_all()
    if os.environ.get("UPDATE_EXPECTED"):
        update_expected(runs)
        runs = run_all()
    return runs


@pytest.mark.parametrize("extension", EXTENSIONS)
@pytest.mark.parametrize("test", TESTS, ids=lambda p: p.stem)
def test_phpt(phpt_runs, extension: str, test: Path):
    run = phpt_runs[extension]
    if only_for(test) not in (None, extension):
        assert run.status.get(test.stem) == "SKIPPED", run.report(test)
    else:
        assert run.status.get(test.stem) == "PASSED", run.report(test)


def test_differences_still_differ():
    """A listed difference that disappeared must leave README and its test pair."""
    for pecl in PHPT_DIR.glob("*-pecl.phpt"):
        ours = pecl.with_name(pecl.name.replace("-pecl.phpt", "-stompbox.phpt"))
        assert EXPECT.search(ours.read_text())[0] != EXPECT.search(pecl.read_text())[0], ours.name


@pytest.mark.parametrize("extension", ["pecl", "stompbox"])
def test_seed_scenario(broker, php_extension, extension: str):
    """examples/php/send.php publishes two messages; examples/php/subscribe.php gets both."""
    ext = "stomp" if extension == "pecl" else str(php_extension)
    env = dict(os.environ, STOMP_URL=broker.url, TIMEOUT="5")
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
