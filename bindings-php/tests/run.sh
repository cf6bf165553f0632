#!/bin/sh
# Builds the broker and the extension, then runs the differential tests (PECL vs stompbox).
set -eu
cd "$(dirname "$0")/../.."
cargo build --release -p stompbox-server -p stompbox-php
PYTEST=${PYTEST:-target/test-venv/bin/pytest}
[ -x "$PYTEST" ] || PYTEST=pytest
exec "$PYTEST" -q bindings-php/tests "$@"
