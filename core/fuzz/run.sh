#!/usr/bin/env bash
# Builds the `decode` fuzz target with sanitizer coverage on the STABLE toolchain and runs
# libFuzzer on it for SECONDS (default 30). Exits non-zero if it finds a crash (the input is
# saved under artifacts/decode/). Extra arguments go to libFuzzer, e.g. `-jobs=2`.
#
#   core/fuzz/run.sh [SECONDS] [libFuzzer flags...]
set -euo pipefail

seconds="${1:-30}"
shift || true
cd "$(dirname "$0")"

# The committed Cargo.lock pins versions; cargo updates it if stompbox-core gains a dependency.
# Coverage instrumentation as cargo-fuzz sets it up, without cargo-fuzz or nightly. Passing
# --target keeps these flags off build scripts and proc-macros, which would not link with them.
host="$(rustc -vV | sed -n 's/^host: //p')"
export RUSTFLAGS="-Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
cargo build --release --target "$host" --bin decode

# New inputs go to target/corpus/decode (not committed); corpus/decode is the committed seed set.
mkdir -p target/corpus/decode artifacts/decode
exec "target/$host/release/decode" \
  -max_total_time="$seconds" \
  -max_len=4096 \
  -timeout=10 \
  -rss_limit_mb=2048 \
  -error_exitcode=77 \
  -print_final_stats=1 \
  -artifact_prefix=artifacts/decode/ \
  "$@" \
  target/corpus/decode corpus/decode
