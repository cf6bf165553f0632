#!/usr/bin/env bash
# Runs the same stompbox-bench scenarios against stompbox (release build), ActiveMQ 5.17 and
# RabbitMQ 3.10 (Debian packages), one broker at a time, and writes docs/bench/results.md,
# docs/bench/results.json and docs/bench/chart.svg.
#
# Transports: stompbox also serves TLS (61614), WebSocket (61623) and WebSocket over TLS (61624)
# with a self-signed certificate made for the run (openssl; the bench uses --insecure), and
# fan-out and 1k/s latency run over each of tcp, tls, ws and wss back to back. RabbitMQ gets
# its web-stomp plugin on 127.0.0.1:15674 (path /ws) for the same two over ws. ActiveMQ gets
# no WebSocket connector (see docs/PERFORMANCE.md).
#
# Every broker listens on 127.0.0.1 only: ActiveMQ gets a config with only an openwire and a
# STOMP (NIO) connector, no JMX, no web console; RabbitMQ gets AMQP, STOMP, the Erlang
# distribution port and its own epmd on 127.0.0.1. The Debian services are never started
# (policy-rc.d answers 101) and each broker runs as a process this script stops by its PID.
# The script checks the listening sockets of each broker and refuses to go on if any is not
# on a loopback address.
#
# Rooms (issue 16): one publisher at a fixed rate to one topic with thousands of subscribers,
# 200-byte bodies: 1,000 subscribers at 1,000 msgs/s over tcp, and 10,000 at 100 msgs/s over
# tcp, ws and wss (each 1 M deliveries/s offered), on every broker and transport that has them.
#
# Usage: bench/compare.sh [--quick] [--brokers "stompbox activemq rabbitmq"] [--only "base transports room"]
#                         [--scenarios "persistent"] [--out docs/bench]
#   --quick      2 s per scenario, 2,000 connections, rooms of a tenth the size (a smoke run)
#   --only       the groups of scenarios to run (default all three)
#   --scenarios  within them, only these scenarios (stompbox-bench subcommands), e.g. "persistent"
# Environment: DURATION (default 8s), CONNECTIONS (default 15000), SKIP_BUILD=1 to use the
# binaries already in target/release, KEEP_WORK=1 to keep broker logs and data in /tmp.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/docs/bench"
BROKERS="stompbox activemq rabbitmq"
SCENARIOS=""
DURATION="${DURATION:-8s}"
CONNECTIONS="${CONNECTIONS:-15000}"
ONLY="base transports room"
ROOM_SCALE=1
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) DURATION=2s; CONNECTIONS=2000; ROOM_SCALE=10 ;;
        --brokers) BROKERS="$2"; shift ;;
        --scenarios) SCENARIOS="$2"; shift ;;
        --only) ONLY="$2"; shift ;;
        --out) OUT="$2"; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

WORK="$(mktemp -d /tmp/stompbox-compare.XXXXXX)"
RESULTS="$WORK/results.jsonl"
: > "$RESULTS"
BENCH="$ROOT/target/release/stompbox-bench"
STOMPBOX="$ROOT/target/release/stompbox"
BROKER_PGID=""
EPMD_PORT=4371

log() { echo "== $*" >&2; }

cleanup() {
    stop_broker
    [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- setup -----------------------------------------------------------------------------------

install_brokers() {
    local missing=()
    dpkg -s activemq >/dev/null 2>&1 || missing+=(activemq)
    dpkg -s rabbitmq-server >/dev/null 2>&1 || missing+=(rabbitmq-server)
    command -v openssl >/dev/null || missing+=(openssl)
    [ ${#missing[@]} -eq 0 ] && return
    log "installing ${missing[*]} (services are not started)"
    local own_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        own_policy=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
    [ -n "$own_policy" ] && rm -f /usr/sbin/policy-rc.d
    # In case an init system started them anyway.
    service activemq stop >/dev/null 2>&1 || true
    service rabbitmq-server stop >/dev/null 2>&1 || true
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        systemctl disable --now activemq rabbitmq-server >/dev/null 2>&1 || true
    fi
}

build() {
    log "building stompbox and stompbox-bench (release)"
    (cd "$ROOT" && cargo build --release -q -p stompbox-server -p stompbox-bench)
}

# --- brokers ---------------------------------------------------------------------------------

# Waits until something accepts on 127.0.0.1:$1 (at most $2 seconds).
wait_port() {
    local port=$1 limit=$2 i
    for ((i = 0; i < limit * 10; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing listens on 127.0.0.1:$port after ${limit}s" >&2
    return 1
}

# Lists the TCP/UDP listening sockets of the broker's process group; fails if any is not loopback.
# Looks up to 5 times, a second apart: a RabbitMQ restart briefly shows a helper node's listener
# on 0.0.0.0 that goes away by itself; one that stays stops the run.
check_loopback() {
    local pids bad tries
    for tries in 1 2 3 4 5; do
        pids="$(ps -o pid= -g "$BROKER_PGID" | tr -s ' \n' ' ')"
        [ -n "$EPMD_PID" ] && pids="$pids $EPMD_PID"
        local sockets=""
        for pid in $pids; do
            sockets+="$(ss -H -ltnup 2>/dev/null | grep "pid=$pid," || true)"$'\n'
        done
        bad="$(echo "$sockets" | awk 'NF {print $5}' | grep -v -E '^(127\.[0-9.]+|\[::1\]|\[::ffff:127\.[0-9.]+\]):[0-9]+$' || true)"
        [ -n "$bad" ] || break
        sleep 1
    done
    echo "$sockets" | awk 'NF {print "   listening:", $5}' >&2
    if [ -n "$bad" ]; then
        echo "refusing to go on: non-loopback listener(s): $bad" >&2
        exit 1
    fi
}

EPMD_PID=""
BROKER_PID=""

start_stompbox() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7 \
        -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
        -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
    cat > "$WORK/stompbox.toml" <<EOF
listen = ["127.0.0.1:61613"]
# Persistent messages are stored (fdatasync before each RECEIPT), as the other two brokers do.
data_dir = "$WORK/stompbox-data"

[limits]
# The connections scenario opens up to 15,000 from 127.0.0.1; the default caps are 10,000
# connections and 1,000 per address.
max_connections = 19000
max_connections_per_address = 19000

[[listener]]
kind = "tls"
address = "127.0.0.1:61614"
cert = "cert.pem"
key = "key.pem"

[[listener]]
kind = "ws"
address = "127.0.0.1:61623"

[[listener]]
kind = "wss"
address = "127.0.0.1:61624"
cert = "cert.pem"
key = "key.pem"
EOF
    setsid "$STOMPBOX" run --config "$WORK/stompbox.toml" --log warn > "$WORK/stompbox.log" 2>&1 &
    BROKER_PGID=$!
    BROKER_PID=$!
    wait_port 61613 10
    URL=tcp://127.0.0.1:61613; USER_ARGS=()
    TRANSPORTS=(tcp=tcp://127.0.0.1:61613 tls=ssl://localhost:61614 ws=ws://127.0.0.1:61623/ wss=wss://localhost:61624/)
    VERSION="stompbox $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo dev) (release)"
}

start_activemq() {
    local base="$WORK/activemq"
    mkdir -p "$base/conf" "$base/data" "$base/tmp"
    cat > "$base/conf/activemq.xml" <<EOF
<beans xmlns="http://www.springframework.org/schema/beans"
       xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
       xsi:schemaLocation="http://www.springframework.org/schema/beans http://www.springframework.org/schema/beans/spring-beans.xsd
                           http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" brokerName="bench" useJmx="false"
          dataDirectory="$base/data">
    <managementContext><managementContext createConnector="false"/></managementContext>
    <persistenceAdapter><kahaDB directory="$base/data/kahadb"/></persistenceAdapter>
    <!-- Only these two listeners, both on loopback; no amqp/mqtt/ws, no Jetty console, no JMX. -->
    <transportConnectors>
      <transportConnector name="openwire" uri="tcp://127.0.0.1:61626"/>
      <transportConnector name="stomp" uri="stomp+nio://127.0.0.1:61623?maximumConnections=19000"/>
    </transportConnectors>
  </broker>
</beans>
EOF
    cp /etc/activemq/instances-available/main/log4j2.properties "$base/conf/" 2>/dev/null || true
    # Debian's defaults (/usr/share/activemq/activemq-options): 512 MiB heap, dedicated task runner.
    setsid java -Xms512M -Xmx512M -Dorg.apache.activemq.UseDedicatedTaskRunner=true \
        --add-reads=java.xml=java.logging --add-opens java.base/java.lang=ALL-UNNAMED \
        --add-opens java.base/java.util=ALL-UNNAMED --add-opens java.base/java.net=ALL-UNNAMED \
        --add-opens java.base/java.security=ALL-UNNAMED --add-opens java.base/java.util.concurrent=ALL-UNNAMED \
        --add-opens java.naming/javax.naming.spi=ALL-UNNAMED \
        -Djava.io.tmpdir="$base/tmp" -Dactivemq.classpath="$base/conf" \
        -Dactivemq.home=/usr/share/activemq -Dactivemq.base="$base" -Dactivemq.conf="$base/conf" \
        -Dactivemq.data="$base/data" \
        -jar /usr/share/activemq/bin/activemq.jar start "xbean:file:$base/conf/activemq.xml" \
        > "$WORK/activemq.log" 2>&1 &
    BROKER_PGID=$!
    BROKER_PID=$!
    wait_port 61623 90
    URL=tcp://127.0.0.1:61623; USER_ARGS=()
    TRANSPORTS=()
    VERSION="ActiveMQ $(dpkg-query -W -f '${Version}' activemq), $(java -version 2>&1 | head -1)"
}

start_rabbitmq() {
    local base="$WORK/rabbitmq"
    mkdir -p "$base/mnesia" "$base/log" "$base/home"
    cat > "$base/rabbitmq.conf" <<EOF
listeners.tcp.1 = 127.0.0.1:5673
stomp.listeners.tcp.1 = 127.0.0.1:61633
distribution.listener.interface = 127.0.0.1
distribution.listener.port_range.min = 25673
distribution.listener.port_range.max = 25673
web_stomp.tcp.ip = 127.0.0.1
web_stomp.tcp.port = 15674
EOF
    echo '[rabbitmq_stomp,rabbitmq_web_stomp].' > "$base/enabled_plugins"
    export HOME="$base/home" ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT=$EPMD_PORT
    epmd -address 127.0.0.1 -port "$EPMD_PORT" -daemon
    sleep 0.3
    EPMD_PID="$(ss -H -ltnp "sport = :$EPMD_PORT" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)"
    RABBITMQ_NODENAME=bench@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=5673 \
    RABBITMQ_DIST_PORT=25673 RABBITMQ_CONFIG_FILE="$base/rabbitmq.conf" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$base/enabled_plugins" RABBITMQ_MNESIA_BASE="$base/mnesia" \
    RABBITMQ_LOG_BASE="$base/log" RABBITMQ_PID_FILE="$base/rabbitmq.pid" \
    RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
        setsid /usr/lib/rabbitmq/bin/rabbitmq-server > "$WORK/rabbitmq.log" 2>&1 &
    BROKER_PGID=$!
    wait_port 61633 120
    BROKER_PID="$(ps -o pid=,comm= -g "$BROKER_PGID" | awk '$2 ~ /beam/ {print $1; exit}')"
    URL=tcp://127.0.0.1:61633; USER_ARGS=(--user guest --pass guest)
    TRANSPORTS=(tcp=tcp://127.0.0.1:61633 ws=ws://127.0.0.1:15674/ws)
    VERSION="RabbitMQ $(dpkg-query -W -f '${Version}' rabbitmq-server), Erlang $(dpkg-query -W -f '${Version}' erlang-base)"
}

stop_broker() {
    if [ -n "$BROKER_PGID" ]; then
        kill -TERM -- "-$BROKER_PGID" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 -- "-$BROKER_PGID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$BROKER_PGID" 2>/dev/null || true
        BROKER_PGID=""
    fi
    if [ -n "$EPMD_PID" ]; then
        epmd -port "$EPMD_PORT" -kill >/dev/null 2>&1 || kill "$EPMD_PID" 2>/dev/null || true
        EPMD_PID=""
    fi
}

# --- scenarios -------------------------------------------------------------------------------

# run_scenario BROKER LABEL ARGS...: one JSON line tagged with the broker and label, against
# $SCENARIO_URL if set, else the broker's $URL.
run_scenario() {
    local broker=$1 label=$2
    shift 2
    if [ -n "$SCENARIOS" ] && [[ " $SCENARIOS " != *" $1 "* ]]; then
        return
    fi
    log "$broker: $label"
    local line
    if line="$(timeout 300 "$BENCH" "$@" --url "${SCENARIO_URL:-$URL}" --insecure ${USER_ARGS[@]+"${USER_ARGS[@]}"} --pid "$BROKER_PID" --json)"; then
        echo "$line" | python3 -c 'import json,sys; r=json.load(sys.stdin); r["broker"]=sys.argv[1]; r["label"]=sys.argv[2]; print(json.dumps(r))' "$broker" "$label" >> "$RESULTS"
        echo "$line" | python3 -c 'import json,sys; r=json.load(sys.stdin); l=r["latency_us"]; print("   %.0f msgs/s, lost %d, dup %d, p99 %.0f us, errors %d" % (r["msgs_per_s"], r["lost"], r["duplicated"], l["p99"], r["errors"]))' >&2
    else
        echo "   failed (exit $?)" >&2
        printf '{"broker":"%s","label":"%s","failed":true}\n' "$broker" "$label" >> "$RESULTS"
    fi
}

run_all() {
    local broker=$1 group
    for group in $ONLY; do
        "run_$group" "$broker"
    done
}

run_base() {
    local broker=$1
    run_scenario "$broker" "fanout 1P-4S" fanout --producers 1 --subscribers 4 --size 100 --duration "$DURATION"
    run_scenario "$broker" "queue 2P-2C client-individual" queue --producers 2 --consumers 2 --ack client-individual --size 100 --duration "$DURATION"
    run_scenario "$broker" "latency 1k/s" latency --rate 1000 --duration "$DURATION"
    run_scenario "$broker" "latency 10k/s" latency --rate 10000 --duration "$DURATION"
    run_scenario "$broker" "persistent 2P-2C" persistent --producers 2 --consumers 2 --duration "$DURATION"
    # Slow openers stop at the time cap: RSS per connection is over those opened.
    run_scenario "$broker" "connections" connections --connections "$CONNECTIONS" --concurrency 256 --duration 15s
}

# Fan-out and 1k/s latency over each of the broker's transports, back to back.
run_transports() {
    local broker=$1 transport
    for transport in ${TRANSPORTS[@]+"${TRANSPORTS[@]}"}; do
        SCENARIO_URL="${transport#*=}" run_scenario "$broker" "fanout 1P-4S via ${transport%%=*}" \
            fanout --producers 1 --subscribers 4 --size 100 --duration "$DURATION"
    done
    for transport in ${TRANSPORTS[@]+"${TRANSPORTS[@]}"}; do
        SCENARIO_URL="${transport#*=}" run_scenario "$broker" "latency 1k/s via ${transport%%=*}" \
            latency --rate 1000 --duration "$DURATION"
    done
}

# Rooms over each of the broker's transports: 1,000 subscribers at 1,000 msgs/s (tcp), 10,000 at
# 100 msgs/s (every transport); 200-byte bodies, one publisher. ActiveMQ has only tcp. Each room
# gets a freshly started broker: RSS per subscriber is its growth while they subscribe, which
# memory a previous scenario left behind (or gives back meanwhile) would blur.
run_room() {
    local broker=$1 transport small=$((1000 / ROOM_SCALE)) large=$((10000 / ROOM_SCALE))
    local transports=(${TRANSPORTS[@]+"${TRANSPORTS[@]}"})
    [ ${#transports[@]} -gt 0 ] || transports=("tcp=$URL")
    restart_broker "$broker"
    SCENARIO_URL="${transports[0]#*=}" run_scenario "$broker" "room 1000S 1k/s via tcp" \
        room --subscribers "$small" --rate 1000 --size 200 --duration "$DURATION"
    for transport in "${transports[@]}"; do
        case "${transport%%=*}" in tls) continue ;; esac
        restart_broker "$broker"
        SCENARIO_URL="${transport#*=}" run_scenario "$broker" "room 10000S 100/s via ${transport%%=*}" \
            room --subscribers "$large" --rate 100 --size 200 --duration "$DURATION"
    done
}

restart_broker() {
    log "restarting $1"
    stop_broker
    sleep 1
    "start_$1"
    check_loopback
}

# --- main ------------------------------------------------------------------------------------

LOADAVG_START="$(cut -d' ' -f1-3 /proc/loadavg)"
export LOADAVG_START
RUSTC_VERSION="$(cd "$ROOT" && rustc --version 2>/dev/null || true)"
export RUSTC_VERSION
install_brokers
[ -n "${SKIP_BUILD:-}" ] || build
# Private copies, so a rebuild in the work tree during the run cannot swap them.
cp "$BENCH" "$STOMPBOX" "$WORK/"
BENCH="$WORK/stompbox-bench"
STOMPBOX="$WORK/stompbox"
ulimit -n "$(ulimit -Hn)"
for broker in $BROKERS; do
    log "starting $broker"
    "start_$broker"
    log "$VERSION, pid $BROKER_PID"
    check_loopback
    python3 -c 'import json,sys; print(json.dumps({"broker": sys.argv[1], "label": "version", "version": sys.argv[2]}))' \
        "$broker" "$VERSION" >> "$RESULTS"
    run_all "$broker"
    log "stopping $broker"
    stop_broker
    sleep 1
done
if [ -n "$SCENARIOS" ] && [[ " $SCENARIOS " != *" relay-ceiling "* ]]; then
    mkdir -p "$OUT"
    cp "$RESULTS" "$OUT/results.jsonl"
    log "wrote $OUT/results.jsonl"
    exit 0
fi
# relay_ceiling LABEL ARGS...: the plain TCP relay, recorded as broker "tcp-relay".
relay_ceiling() {
    local label=$1 line
    shift
    log "relay ceiling: $label"
    line="$("$BENCH" relay-ceiling "$@" --duration "$DURATION" --json)"
    echo "$line" | python3 -c 'import json,sys; r=json.load(sys.stdin); r["broker"]="tcp-relay"; r["label"]=sys.argv[1]; print(json.dumps(r))' "$label" >> "$RESULTS"
}
case " $ONLY " in *" base "*) relay_ceiling "fanout 1P-4S" --subscribers 4 --size 100 ;; esac
case " $ONLY " in
    *" room "*) relay_ceiling "room 1000S 1k/s via tcp" --subscribers $((1000 / ROOM_SCALE)) --rate 1000 --size 200 --window 0 ;;
esac

mkdir -p "$OUT"
python3 "$ROOT/bench/report.py" "$RESULTS" "$OUT"
log "wrote $OUT/results.md, $OUT/results.json, $OUT/chart.svg"
