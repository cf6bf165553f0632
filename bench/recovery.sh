#!/usr/bin/env bash
# Measures the store's recovery: fills a fresh data directory with N persistent 100-byte messages
# (default 1,000,000; random bodies, so compression gains nothing) on one queue, stops the
# broker (SIGKILL, so its journal must be replayed; STOP=TERM for a clean shutdown), starts it
# again and reports the time it took to read everything back (the broker's "message store
# opened" log line) and the bytes on disk per stored message.
#
# Usage: bench/recovery.sh [N]   (uses target/release/stompbox; SKIP_BUILD=1 to skip building)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
COUNT="${1:-1000000}"
PORT=61709
WORK="$(mktemp -d /tmp/stompbox-recovery.XXXXXX)"
BROKER_PID=""
cleanup() {
    [ -n "$BROKER_PID" ] && kill "$BROKER_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
[ -n "${SKIP_BUILD:-}" ] || (cd "$ROOT" && cargo build --release -q -p stompbox-server)
cat > "$WORK/stompbox.toml" <<CONF
listen = ["127.0.0.1:$PORT"]
data_dir = "data"
[queues]
max_messages = $((COUNT + 1))
max_bytes = 4294967296
CONF

start() {
    "$ROOT/target/release/stompbox" run --config "$WORK/stompbox.toml" --log info > "$WORK/$1.log" 2>&1 &
    BROKER_PID=$!
    for _ in $(seq 1 600); do
        grep -q "listening on" "$WORK/$1.log" && return 0
        sleep 0.1
    done
    echo "the broker did not start" >&2
    exit 1
}

start fill
python3 - "$PORT" "$COUNT" <<'PY'
import os, socket, sys
port, count = int(sys.argv[1]), int(sys.argv[2])
sock = socket.create_connection(("127.0.0.1", port))
sock.sendall(b"CONNECT\naccept-version:1.2\n\n\0")
buffer = b""
def until(marker: bytes) -> None:
    global buffer
    while marker not in buffer:
        buffer += sock.recv(65536)
    buffer = buffer[buffer.index(marker) + len(marker):]
until(b"\0")
chunk = 10_000
head = b"SEND\ndestination:/queue/recovery\npersistent:true\n\n"
for start in range(0, count, chunk):
    n = min(chunk, count - start)
    bodies = os.urandom(50 * n).hex().encode()
    frames = b"".join(head + bodies[i * 100 : i * 100 + 100] + b"\0" for i in range(n - 1))
    last = b"SEND\ndestination:/queue/recovery\npersistent:true\nreceipt:r%d\n\n" % start + b"x" * 100 + b"\0"
    sock.sendall(frames + last)
    until(b"receipt-id:r%d\n" % start)
sock.close()
PY
kill "-${STOP:-KILL}" "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null || true
BYTES="$(du -sb "$WORK/data" | cut -f1)"
APPARENT="$(du -sb --apparent-size "$WORK/data" | cut -f1)"
if [ -n "${PERF:-}" ]; then
    perf record -F 999 -g -o "$PERF" -- "$ROOT/target/release/stompbox" run --config "$WORK/stompbox.toml" --log info > "$WORK/recover.log" 2>&1 &
    BROKER_PID=$!
    until grep -q "listening on" "$WORK/recover.log" 2>/dev/null; do sleep 0.1; done
    kill -INT "$BROKER_PID"; wait "$BROKER_PID" || true; BROKER_PID=""
else
    start recover
fi
LINE="$(grep "message store opened" "$WORK/recover.log")"
echo "$LINE"
echo "stored messages: $COUNT; disk: $BYTES bytes allocated ($((BYTES / COUNT)) per message), $APPARENT apparent"
