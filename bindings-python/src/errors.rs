//! The Python exceptions and the one function that maps core client errors onto them.
//!
//! ```text
//! StompError(Exception)
//! ├── StompConnectionError     refused, reset, closed, silent broker
//! │   └── StompTlsError        TLS: certificate not trusted, wrong host name, not a TLS port,
//! │                            CA file unusable
//! ├── BrokerError              the broker sent ERROR: .message, .body, .frame
//! │   └── AuthenticationError  the broker refused the login
//! ├── StompTimeoutError        no CONNECTED, RECEIPT or frame in time
//! └── StompProtocolError       the broker sent something that is not valid STOMP
//! ```
//! A bad argument (URL, header, timeout) is a `ValueError`.

use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use stompbox_core::client::Error;

use crate::frame::Frame;

pyo3::create_exception!(stompbox, StompError, PyException, "Base class of every stompbox error.");
pyo3::create_exception!(
    stompbox,
    StompConnectionError,
    StompError,
    "The connection could not be made, or it broke: refused, reset, closed, or a silent broker."
);
pyo3::create_exception!(
    stompbox,
    StompTlsError,
    StompConnectionError,
    "TLS failed: the broker's certificate is not signed by a trusted CA or does not name the host, the port does not speak TLS, or the CA file cannot be used."
);
pyo3::create_exception!(
    stompbox,
    BrokerError,
    StompError,
    "The broker answered with an ERROR frame. Attributes: message (the ERROR's message header), body (bytes), frame (Frame)."
);
pyo3::create_exception!(
    stompbox,
    AuthenticationError,
    BrokerError,
    "The broker refused the login and passcode given in CONNECT."
);
pyo3::create_exception!(
    stompbox,
    StompTimeoutError,
    StompError,
    "No answer (CONNECTED, RECEIPT or a frame) came before the timeout."
);
pyo3::create_exception!(
    stompbox,
    StompProtocolError,
    StompError,
    "The broker sent bytes that are not valid STOMP, or a frame the protocol does not allow there."
);

/// Maps a core client error to the Python exception for it. The match names every variant, so
/// a new one fails to compile here until it is given its exception.
pub fn to_pyerr(py: Python<'_>, error: Error) -> PyErr {
    let text = error.to_string();
    match error {
        Error::InvalidUrl { .. } | Error::UnsupportedScheme(_) | Error::InvalidArgument(_) => {
            PyValueError::new_err(text)
        }
        Error::Connect { .. } | Error::Closed { .. } | Error::HeartbeatTimeout { .. } | Error::Io(_) => {
            StompConnectionError::new_err(text)
        }
        Error::Tls { .. } | Error::TrustStore { .. } => StompTlsError::new_err(text),
        Error::Timeout(_) => StompTimeoutError::new_err(text),
        Error::Protocol(_) | Error::Unexpected(_) => StompProtocolError::new_err(text),
        Error::Auth { message, frame } => {
            let body = frame.body.clone();
            with_frame(py, AuthenticationError::new_err(text), message, &body, *frame)
        }
        Error::Broker { message, body, frame } => with_frame(py, BrokerError::new_err(text), message, &body, *frame),
    }
}

/// Attaches the ERROR frame's `message`, `body` and the frame itself to the exception.
fn with_frame(py: Python<'_>, err: PyErr, message: String, body: &[u8], frame: stompbox_core::Frame) -> PyErr {
    let value = err.value(py);
    let attached = value
        .setattr("message", message)
        .and_then(|()| value.setattr("body", PyBytes::new(py, body)))
        .and_then(|()| value.setattr("frame", Py::new(py, Frame::from_core(frame))?));
    match attached {
        Ok(()) => err,
        Err(e) => e,
    }
}
