//! The `stompbox._stompbox` native module behind the `stompbox` Python package: the blocking
//! client (`Stomp`, `Frame`), the embedded broker (`Broker`) and the exceptions.
//!
//! - `client`: `Stomp`, over `stompbox_core::client::Client`; every wait releases the GIL.
//! - `frame`: `Frame`.
//! - `broker`: `Broker`, the `stompbox-server` library on its own tokio runtime.
//! - `errors`: the exception classes and `to_pyerr`, the one mapping from core errors.
//! - `convert`: argument conversions (bodies, header dicts, timeouts).

mod broker;
mod client;
mod convert;
mod errors;
mod frame;

use pyo3::prelude::*;

/// The native module. Import it through the `stompbox` package.
#[pymodule]
mod _stompbox {
    use super::*;

    #[pymodule_export]
    use crate::broker::Broker;
    #[pymodule_export]
    use crate::client::{Batch, Stomp};
    #[pymodule_export]
    use crate::errors::{
        AuthenticationError, BrokerError, StompConnectionError, StompError, StompProtocolError, StompTimeoutError,
        StompTlsError,
    };
    #[pymodule_export]
    use crate::frame::Frame;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", python_version(env!("CARGO_PKG_VERSION")))?;
        Ok(())
    }
}

/// Cargo's version as PEP 440: `1.2.3-alpha.1` becomes `1.2.3a1`, `-beta.N` `bN`, `-rc.N` `rcN`.
fn python_version(cargo: &str) -> String {
    let Some((base, pre)) = cargo.split_once('-') else {
        return cargo.to_owned();
    };
    let (kind, number) = pre.split_once('.').unwrap_or((pre, "0"));
    match kind {
        "alpha" => format!("{base}a{number}"),
        "beta" => format!("{base}b{number}"),
        "rc" => format!("{base}rc{number}"),
        _ => format!("{base}.dev0"),
    }
}
