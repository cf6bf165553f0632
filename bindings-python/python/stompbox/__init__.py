"""stompbox: a fast blocking STOMP client and the stompbox broker, embeddable in-process.

Example::

    import stompbox

    with stompbox.Broker(port=0) as broker, stompbox.Stomp(broker.url) as conn:
        conn.subscribe("/queue/jobs")
        conn.send("/queue/jobs", b"hello", receipt=True)
        print(conn.read_frame(timeout=5).body)   # b'hello'

Exceptions all derive from :class:`StompError`: :class:`StompConnectionError` (and its
subclass :class:`StompTlsError`), :class:`BrokerError` (and its subclass :class:`AuthenticationError`), :class:`StompTimeoutError`
and :class:`StompProtocolError`.
"""

from stompbox._stompbox import (
    AuthenticationError,
    Batch,
    Broker,
    BrokerError,
    Frame,
    Stomp,
    StompConnectionError,
    StompError,
    StompProtocolError,
    StompTimeoutError,
    StompTlsError,
    __version__,
)

__all__ = [
    "AuthenticationError",
    "Batch",
    "Broker",
    "BrokerError",
    "Frame",
    "Stomp",
    "StompConnectionError",
    "StompError",
    "StompProtocolError",
    "StompTimeoutError",
    "StompTlsError",
    "__version__",
]
