//! `stompbox.Frame`: one STOMP frame as Python sees it.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use stompbox_core::Command;

use crate::convert::{body_bytes, header_list};

/// A STOMP frame: `command` (str), `headers` (dict of str to str; a repeated header keeps its
/// first value) and `body` (bytes).
#[pyclass(frozen, module = "stompbox", name = "Frame")]
pub struct Frame {
    pub(crate) inner: stompbox_core::Frame,
}

impl Frame {
    pub(crate) fn from_core(inner: stompbox_core::Frame) -> Frame {
        Frame { inner }
    }
}

#[pymethods]
impl Frame {
    /// Builds a frame: `Frame("SEND", {"destination": "/queue/a"}, b"body")`.
    #[new]
    #[pyo3(signature = (command, headers=None, body=None))]
    fn new(command: &str, headers: Option<&Bound<'_, PyAny>>, body: Option<&Bound<'_, PyAny>>) -> PyResult<Frame> {
        let command = Command::from_bytes(command.as_bytes())
            .ok_or_else(|| pyo3::exceptions::PyValueError::new_err(format!("unknown STOMP command {command:?}")))?;
        let mut inner = stompbox_core::Frame::new(command);
        inner.headers = header_list(headers)?;
        if let Some(body) = body {
            inner.body = bytes::Bytes::copy_from_slice(&body_bytes(body)?);
        }
        Ok(Frame { inner })
    }

    /// The command, e.g. `"MESSAGE"`.
    #[getter]
    fn command(&self) -> &'static str {
        self.inner.command.as_str()
    }

    /// The headers as a new dict (the first value of a repeated header).
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        for (name, value) in &self.inner.headers {
            if !dict.contains(name)? {
                dict.set_item(name, value)?;
            }
        }
        Ok(dict)
    }

    /// The body.
    #[getter]
    fn body<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.body)
    }

    /// The first value of header `name`, or `default`.
    #[pyo3(signature = (name, default=None))]
    fn header(&self, name: &str, default: Option<String>) -> Option<String> {
        self.inner.header(name).map(str::to_owned).or(default)
    }

    fn __repr__(&self) -> String {
        let headers: Vec<String> = self.inner.headers.iter().map(|(n, v)| format!("{n:?}: {v:?}")).collect();
        format!(
            "Frame(command={:?}, headers={{{}}}, body=<{} bytes>)",
            self.inner.command.as_str(),
            headers.join(", "),
            self.inner.body.len()
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Frame>().map(|o| o.get().inner == self.inner).unwrap_or(false)
    }
}
