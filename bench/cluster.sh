#!/usr/bin/env bash
# Cluster figures (docs/PERFORMANCE.md, "Cluster"): stompbox-bench against one node and against
# three nodes sharing topics (core NATS), queues and durable subscriptions (JetStream) through one
# nats-server, all on this machine's loopback, with the CPU time of every broker process and of
# nats-server read from /proc around each run.
#
#   bench/cluster.sh [DURATION] [RUN...]    (default 10s and every run; needs
#                                           `cargo build --release` and nats-server)
#   bench/cluster.sh 10s queue              only the runs whose label starts with "queue"
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10s}"
shift || true
ONLY=("$@")
BENCH=target/release/stompbox-bench
BROKER="${STOMPBOX_BIN:-target/release/stompbox}"   # STOMPBOX_BIN: another build, for a before/after
WORK="$(mktemp -d)"
PIDS=()
trap 'for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# utime + stime of a process, in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
wait_port() { for _ in $(seq 500); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.01; done; exit 1; }

NATS_PORT="$(free_port)"
nats-server -a 127.0.0.1 -p "$NATS_PORT" -js -sd "$WORK/jetstream" >/dev/null 2>&1 &
NATS_PID=$!
PIDS+=("$NATS_PID")
wait_port "$NATS_PORT"

# node NAME [cluster]: starts a broker, prints "PID PORT".
node() {
  local port
  port="$(free_port)"
  {
    echo "listen = [\"127.0.0.1:$port\"]"
    if [ "${2:-}" = cluster ]; then
      printf '[cluster]\nnats = ["nats://127.0.0.1:%s"]\nnode = "%s"\n' "$NATS_PORT" "$1"
    fi
  } >"$WORK/$1.toml"
  RUST_LOG=warn "$BROKER" run --config "$WORK/$1.toml" >/dev/null 2>&1 &
  PIDS+=("$!")
  wait_port "$port"
  echo "$! $port"
}

# run LABEL PIDS URLS SCENARIO...: one bench run, then the CPU seconds each PID used.
run() {
  local label="$1" pids="$2" urls="$3"
  shift 3
  if [ "${#ONLY[@]}" -gt 0 ]; then
    local wanted=0 prefix
    for prefix in "${ONLY[@]}"; do [[ "$label" == "$prefix"* ]] && wanted=1; done
    [ "$wanted" = 1 ] || return 0
  fi
  local before=() after=() pid
  for pid in $pids "$NATS_PID"; do before+=("$(ticks "$pid")"); done
  local json
  json="$("$BENCH" --url "$urls" --settle 500ms --duration "$DURATION" --json "$@")"
  for pid in $pids "$NATS_PID"; do after+=("$(ticks "$pid")"); done
  local hz cpu=() i
  hz="$(getconf CLK_TCK)"
  for i in "${!before[@]}"; do cpu+=("$(echo "scale=2; (${after[$i]} - ${before[$i]}) / $hz" | bc)"); done
  python3 - "$label" "$json" "${cpu[@]}" <<'EOF'
import json, sys
label, report, cpu = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3:]
print(f"{label}: {report['msgs_per_s']:,.0f} delivered/s, sent {report['sent']:,}, "
      f"delivered {report['delivered']:,} of {report['expected']:,}, lost {report['lost']}, "
      f"duplicated {report['duplicated']}, p99 {report['latency_us']['p99']} us, "
      f"CPU s brokers {' '.join(cpu[:-1])} nats {cpu[-1]}")
EOF
}

read -r SINGLE SINGLE_PORT <<<"$(node single)"
read -r A A_PORT <<<"$(node a cluster)"
read -r B B_PORT <<<"$(node b cluster)"
read -r C C_PORT <<<"$(node c cluster)"
ONE="tcp://127.0.0.1:$SINGLE_PORT"
THREE="tcp://127.0.0.1:$A_PORT,tcp://127.0.0.1:$B_PORT,tcp://127.0.0.1:$C_PORT"

run "fanout 3->3, 1 node" "$SINGLE" "$ONE" fanout --producers 3 --subscribers 3
run "fanout 3->3, 3 nodes" "$A $B $C" "$THREE" fanout --producers 3 --subscribers 3
run "fanout 1->3, 3 nodes, 1 node publishing" "$A $B $C" "$THREE" fanout --producers 1 --subscribers 3
run "queue 1->1, 1 node" "$SINGLE" "$ONE" queue --producers 1 --consumers 1
run "queue 1->1, 3 nodes (JetStream; consumer on a, producer on b)" "$A $B $C" "$THREE" queue --producers 1 --consumers 1
run "queue 3->3, 1 node" "$SINGLE" "$ONE" queue --producers 3 --consumers 3
run "queue 3->3, 3 nodes (JetStream)" "$A $B $C" "$THREE" queue --producers 3 --consumers 3
run "durable 1->1, 1 node" "$SINGLE" "$ONE" durable --producers 1 --consumers 1
run "durable 1->1, 3 nodes (JetStream; subscription made on a, producer on b)" "$A $B $C" "$THREE" durable --producers 1 --consumers 1
run "persistent 1->1, 1 node (no store: a receipt per SEND)" "$SINGLE" "$ONE" persistent --producers 1 --consumers 1
run "persistent 1->1, 3 nodes (a receipt per SEND after the PubAck)" "$A $B $C" "$THREE" persistent --producers 1 --consumers 1
