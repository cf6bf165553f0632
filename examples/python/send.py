"""Posts into a chat room (/topic/chat.ROOM.demo, what the broker's /chat/ page shows): one plain
message, which fades out of the page after 5 seconds, and one "sticky:" message, which stays
pinned.

    STOMP_URL (default tcp://127.0.0.1:61613), STOMP_USER, STOMP_PASS (default: anonymous),
    CHAT_ROOM (default general), CHAT_NICK (the sender the page shows; default Python)
"""

import os
import sys

import stompbox

url = os.environ.get("STOMP_URL", "tcp://127.0.0.1:61613")
destination = f"/topic/chat.{os.environ.get('CHAT_ROOM', 'general')}.demo"
headers = {"nick": os.environ.get("CHAT_NICK", "Python")}

try:
    with stompbox.Stomp(url, os.environ.get("STOMP_USER"), os.environ.get("STOMP_PASS")) as stomp:
        stomp.send(destination, "hello from Python", headers=headers)
        # A receipt on the last message: returns once the broker has processed both.
        stomp.send(destination, "sticky: read me first", headers=headers, receipt=True)
    print(f"sent 2 messages to {destination}")
except stompbox.StompError as error:
    sys.exit(f"stomp error: {error}")
