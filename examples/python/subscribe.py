"""Prints the messages of /topic/chat.** until interrupted (or, with TIMEOUT seconds set,
until nothing arrives for that long).

    STOMP_URL (default tcp://127.0.0.1:61613), STOMP_USER, STOMP_PASS (default: anonymous)
"""

import os
import sys

import stompbox

url = os.environ.get("STOMP_URL", "tcp://127.0.0.1:61613")
timeout = float(os.environ["TIMEOUT"]) if "TIMEOUT" in os.environ else None

try:
    with stompbox.Stomp(url, os.environ.get("STOMP_USER"), os.environ.get("STOMP_PASS")) as stomp:
        stomp.subscribe(os.environ.get("STOMP_DESTINATION", "/topic/chat.**"))
        print("subscribed", flush=True)
        while (frame := stomp.read_frame(timeout=timeout)) is not None:
            print(frame.body.decode(), flush=True)
except KeyboardInterrupt:
    pass
except stompbox.StompError as error:
    sys.exit(f"stomp error: {error}")
