#!/bin/sh
# Runs bench.php with PECL's extension and with ours against one fresh stompbox broker.
set -eu
cd "$(dirname "$0")/.."
cargo build --release -p stompbox-server -p stompbox-php
log=$(mktemp)
target/release/stompbox run --listen 127.0.0.1:0 2>"$log" >/dev/null &
broker=$!
trap 'kill $broker; rm -f "$log"' EXIT
while ! grep -q 'listening on' "$log"; do sleep 0.1; done
export STOMP_URL="tcp://$(grep -o 'listening on [0-9.:]*' "$log" | head -1 | cut -d' ' -f3)"
for round in 1 2; do
    EXT_LABEL=pecl php -n -d extension=stomp bindings-php/bench.php
    EXT_LABEL=stompbox php -n -d extension="$PWD/target/release/libstompbox_php.so" bindings-php/bench.php
done
