"""Type stubs for the native module behind the ``stompbox`` package."""

import os
from types import TracebackType
from typing import Any, Iterator, Mapping, Optional, Union, final

from typing_extensions import Self, TypeAlias

__version__: str
__all__ = [
    "Broker",
    "Batch",
    "Stomp",
    "AuthenticationError",
    "BrokerError",
    "StompConnectionError",
    "StompError",
    "StompProtocolError",
    "StompTimeoutError",
    "StompTlsError",
    "Frame",
    "__version__",
]

_Body: TypeAlias = Union[bytes, bytearray, memoryview, str]
_Headers: TypeAlias = Mapping[str, object]

class StompError(Exception):
    """Base class of every stompbox error."""

class StompConnectionError(StompError):
    """The connection could not be made, or it broke: refused, reset, closed, or a silent broker."""

class StompTlsError(StompConnectionError):
    """TLS failed: the broker's certificate is not signed by a trusted CA or does not name the
    host, the port does not speak TLS, or the CA file cannot be used."""

class BrokerError(StompError):
    """The broker answered with an ERROR frame."""

    message: str
    """The ERROR frame's ``message`` header."""
    body: bytes
    """The ERROR frame's body."""
    frame: Frame
    """The ERROR frame."""

class AuthenticationError(BrokerError):
    """The broker refused the login and passcode given in CONNECT."""

class StompTimeoutError(StompError):
    """No answer (CONNECTED, RECEIPT or a frame) came before the timeout."""

class StompProtocolError(StompError):
    """The broker sent bytes that are not valid STOMP, or a frame not allowed there."""

@final
class Frame:
    """A STOMP frame."""

    def __new__(cls, command: str, headers: Optional[_Headers] = None, body: Optional[_Body] = None) -> Self:
        """Builds a frame, e.g. ``Frame("SEND", {"destination": "/queue/a"}, b"body")``."""
    @property
    def command(self) -> str:
        """The command, e.g. ``"MESSAGE"``."""
    @property
    def headers(self) -> dict[str, str]:
        """The headers as a new dict (the first value of a repeated header)."""
    @property
    def body(self) -> bytes:
        """The body."""
    def header(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """The first value of header ``name``, or ``default``."""
    def __eq__(self, other: object, /) -> bool: ...

@final
class Stomp:
    """A blocking connection to a STOMP broker (STOMP 1.2, falling back to 1.1 or 1.0)."""

    def __new__(
        cls,
        url: str = "tcp://127.0.0.1:61613",
        user: Optional[str] = None,
        password: Optional[str] = None,
        headers: Optional[_Headers] = None,
        timeout: float = 10.0,
        heartbeat: tuple[int, int] = (0, 0),
        vhost: Optional[str] = None,
        write_buffer_bytes: int = 1048576,
        ca_file: Optional[Union[str, os.PathLike[str]]] = None,
    ) -> Self:
        """Connects. ``url``: ``tcp://host:port``, ``ssl://host:port`` or ``tls://host:port``
        (TLS, trusting the system's CA certificates, or those in the PEM file ``ca_file``), or
        ``failover://(tcp://a:1,ssl://b:2)``.
        Frames sent without a receipt are buffered (up to ``write_buffer_bytes``; 0: none) and
        written by a background thread as soon as the socket takes them."""
    @property
    def session_id(self) -> Optional[str]:
        """The session id from CONNECTED."""
    @property
    def version(self) -> str:
        """The negotiated STOMP version: "1.0", "1.1" or "1.2"."""
    @property
    def server(self) -> Optional[str]:
        """The ``server`` header from CONNECTED."""
    @property
    def url(self) -> str:
        """The URL given to the constructor."""
    @property
    def closed(self) -> bool:
        """Whether the connection is closed."""
    def send(
        self,
        destination: str,
        body: Optional[_Body] = None,
        headers: Optional[_Headers] = None,
        receipt: bool = False,
    ) -> None:
        """Sends a message: buffered and written in the background; with ``receipt=True``,
        writes everything and waits for the broker's confirmation."""
    def subscribe(
        self,
        destination: str,
        headers: Optional[_Headers] = None,
        ack: str = "auto",
        receipt: bool = True,
    ) -> str:
        """Subscribes and returns the subscription id; waits for a receipt unless ``receipt=False``."""
    def unsubscribe(self, id: str, headers: Optional[_Headers] = None, receipt: bool = False) -> None:
        """Ends a subscription."""
    def read_frame(self, timeout: Optional[float] = None) -> Optional[Frame]:
        """The next frame, or None after ``timeout`` seconds (default: the connection's timeout)."""
    def has_frame(self, timeout: float = 0.0) -> bool:
        """Whether a frame is ready, waiting up to ``timeout`` seconds."""
    def ack(self, frame: Frame, transaction: Optional[str] = None, receipt: bool = False) -> None:
        """Acknowledges a received MESSAGE."""
    def nack(self, frame: Frame, transaction: Optional[str] = None, receipt: bool = False) -> None:
        """Rejects a received MESSAGE (STOMP 1.1+)."""
    def begin(self, transaction: Optional[str] = None, receipt: bool = False) -> str:
        """Opens a transaction and returns its id."""
    def commit(self, transaction: str, receipt: bool = False) -> None:
        """Commits a transaction."""
    def abort(self, transaction: str, receipt: bool = False) -> None:
        """Rolls back a transaction."""
    def close(self) -> None:
        """Disconnects with a receipt and closes the socket."""
    def batch(self) -> Batch:
        """Kept from earlier versions (every send is buffered now): leaving the block flushes."""
    def flush(self) -> None:
        """Writes everything sent so far and waits; raises a write error met in the background."""
    def __enter__(self) -> Stomp: ...
    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc_value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> bool: ...
    def __iter__(self) -> Iterator[Frame]: ...
    def __next__(self) -> Frame: ...

@final
class Batch:
    """Returned by :meth:`Stomp.batch`: leaving the block flushes."""

    def __enter__(self) -> Stomp: ...
    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc_value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> bool: ...

@final
class Broker:
    """The stompbox broker running inside this process on its own threads."""

    def __new__(
        cls,
        port: Optional[int] = 0,
        config: Union[str, os.PathLike[str], Mapping[str, Any], None] = None,
    ) -> Self:
        """``port`` (unless None) replaces the configured listeners with 127.0.0.1:port (0: any free port)."""
    def start(self) -> None:
        """Binds and starts serving."""
    def stop(self) -> None:
        """Closes every connection and stops."""
    @property
    def running(self) -> bool:
        """Whether the broker is running."""
    @property
    def port(self) -> int:
        """The port of the first listener."""
    @property
    def url(self) -> str:
        """``tcp://host:port`` of the first listener."""
    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Every bound address."""
    def __enter__(self) -> Broker: ...
    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc_value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> bool: ...
