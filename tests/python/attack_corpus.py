"""The hostile-client corpus, tests/attacks/cases.toml: loading its profiles and cases, and the
fuzz seeds made from them (core/fuzz/corpus/decode/).

Run as a script, it writes the seed of every case that the fuzz corpus does not hold yet:

    python3 tests/python/attack_corpus.py

A case's bytes are written in the TOML file as a literal string ('...') in which a backslash
starts one of these escapes and every other character stands for its UTF-8 bytes:
`\\n` (LF), `\\r` (CR), `\\t` (TAB), `\\\\` (one backslash), `\\xHH` (the byte HH). So a STOMP
1.2 header escape such as `\\c` is written `\\\\c`, and a NUL `\\x00`.
"""

from __future__ import annotations

import hashlib
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "attacks" / "cases.toml"
FUZZ_CORPUS = ROOT / "core" / "fuzz" / "corpus" / "decode"

OUTCOMES = {"error", "accepted", "closed"}
PROFILE_KEYS = {"config", "fuzz_limits", "check_queues"}
CASE_KEYS = {"name", "profile", "send", "expect", "message", "code", "receipt", "keep_open", "chunk", "connections"}
ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|.)", re.S)
SIMPLE_ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "\\": b"\\"}
# The versions the decode fuzz target picks with bits 4-5 of its control byte, in that order.
FUZZ_VERSIONS = ("1.0", "1.1", "1.2")
ACCEPT_VERSION = re.compile(rb"\naccept-version:([^\r\n\x00]*)")


@dataclass(frozen=True)
class Profile:
    """A broker configuration some cases run against."""

    name: str
    config: str
    # The limit set of the decode fuzz target (bits 6-7 of its control byte, see
    # core/fuzz/fuzz_targets/decode.rs) equal to this profile's frame limits; 3 = the defaults.
    fuzz_limits: int
    # Whether the health check after the corpus makes a new queue on this broker.
    check_queues: bool


@dataclass(frozen=True)
class Case:
    """One hostile input and what the broker must answer."""

    name: str
    profile: str
    data: bytes
    # "error": an ERROR whose `message` contains `message` and whose `code` is `code`, then the
    # close. "accepted": a RECEIPT with `receipt-id` = `receipt`, no ERROR. "closed": no ERROR,
    # the broker just closes.
    expect: str
    message: str | None
    code: str | None
    receipt: str | None
    # Keep the socket open after sending (the case waits for a broker deadline); otherwise the
    # client shuts down its sending side, as a client with nothing more to say does.
    keep_open: bool
    # Send this many bytes per write (0: all at once).
    chunk: int
    # Send the case on this many connections at once; each must meet the outcome.
    connections: int

    def seed(self, profile: Profile) -> bytes:
        """The case as an input of the decode fuzz target: its control byte (one-byte reads, the
        version the case's CONNECT negotiates, the profile's limits), then the bytes."""
        control = (profile.fuzz_limits << 6) | (FUZZ_VERSIONS.index(self.version()) << 4)
        return bytes([control]) + self.data

    def version(self) -> str:
        """The version the broker negotiates for this input: the highest of its first
        `accept-version` it knows, else 1.0 (or 1.2 when it knows none: the CONNECT fails)."""
        found = ACCEPT_VERSION.search(self.data.split(b"\x00", 1)[0])
        if found is None:
            return "1.0"
        offered = [version.strip() for version in found.group(1).decode("utf-8", "replace").split(",")]
        known = [version for version in FUZZ_VERSIONS if version in offered]
        return known[-1] if known else "1.2"


def seed_path(seed: bytes) -> Path:
    """Where the fuzz corpus keeps an input: libFuzzer names each file by the SHA-1 of its bytes."""
    return FUZZ_CORPUS / hashlib.sha1(seed).hexdigest()


def decode_bytes(text: str) -> bytes:
    """The bytes a case's escaped string stands for (see the module docs)."""

    def escape(found: re.Match[str]) -> bytes:
        code = found.group(1)
        if len(code) == 3:
            return bytes([int(code[1:], 16)])
        if code not in SIMPLE_ESCAPES:
            raise ValueError(f"unknown escape \\{code} in {text!r}")
        return SIMPLE_ESCAPES[code]

    out = bytearray()
    position = 0
    for found in ESCAPE.finditer(text):
        out += text[position : found.start()].encode() + escape(found)
        position = found.end()
    return bytes(out + text[position:].encode())


def load() -> tuple[dict[str, Profile], list[Case]]:
    """The profiles and cases of the corpus, checked for consistency."""
    document = tomllib.loads(CASES.read_text())
    profiles = {
        name: Profile(name, table["config"], table["fuzz_limits"], table.get("check_queues", True))
        for name, table in document["profile"].items()
    }
    for name, table in document["profile"].items():
        assert not set(table) - PROFILE_KEYS, f"profile {name}: unknown keys {set(table) - PROFILE_KEYS}"
        assert profiles[name].fuzz_limits in range(4), f"profile {name}: fuzz_limits is 0 to 3"
    cases = []
    for table in document["case"]:
        case = Case(
            name=table["name"],
            profile=table.get("profile", "default"),
            data=decode_bytes(table["send"]),
            expect=table["expect"],
            message=table.get("message"),
            code=table.get("code"),
            receipt=table.get("receipt"),
            keep_open=table.get("keep_open", False),
            chunk=table.get("chunk", 0),
            connections=table.get("connections", 1),
        )
        unknown = set(table) - CASE_KEYS
        assert not unknown, f"{case.name}: unknown keys {unknown}"
        assert case.profile in profiles, f"{case.name}: no profile {case.profile!r}"
        assert case.expect in OUTCOMES, f"{case.name}: expect must be one of {OUTCOMES}"
        assert (case.message is not None and case.code is not None) == (case.expect == "error"), (
            f"{case.name}: an error case, and only one, names a message and a code"
        )
        assert (case.receipt is not None) == (case.expect == "accepted"), (
            f"{case.name}: an accepted case, and only one, names the receipt it waits for"
        )
        cases.append(case)
    names = [case.name for case in cases]
    duplicated = {name for name in names if names.count(name) > 1}
    assert not duplicated, f"case names used twice: {duplicated}"
    return profiles, cases


def missing_seeds(profiles: dict[str, Profile], cases: list[Case]) -> dict[bytes, Case]:
    """The seeds the fuzz corpus lacks, each with a case it comes from (cases that differ only in
    how the client behaves around the bytes share a seed)."""
    seeds = {case.seed(profiles[case.profile]): case for case in cases}
    return {seed: case for seed, case in seeds.items() if not seed_path(seed).is_file()}


def main() -> int:
    profiles, cases = load()
    missing = missing_seeds(profiles, cases)
    for seed in missing:
        seed_path(seed).write_bytes(seed)
    print(f"{len(cases)} cases, {len(missing)} new seeds written to {FUZZ_CORPUS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
