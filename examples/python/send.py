"""Publishes two messages to /topic/chat.general.demo: one plain, one "sticky:".

    STOMP_URL (default tcp://127.0.0.1:61613), STOMP_USER, STOMP_PASS (default: anonymous)
"""

import os
import sys

import stompbox

url = os.environ.get("STOMP_URL", "tcp://127.0.0.1:61613")
destination = os.environ.get("STOMP_DESTINATION", "/topic/chat.general.demo")

try:
    with stompbox.Stomp(url, os.environ.get("STOMP_USER"), os.environ.get("STOMP_PASS")) as stomp:
        stomp.send(destination, "hello from Python")
        # A receipt on the last message: returns once the broker has processed both.
        stomp.send(destination, "sticky: read me first", receipt=True)
    print(f"sent 2 messages to {destination}")
except stompbox.StompError as error:
    sys.exit(f"stomp error: {error}")
