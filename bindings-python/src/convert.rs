//! Python arguments to Rust values: bodies, header dicts, timeouts.

use std::borrow::Cow;
use std::time::Duration;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyString};

/// A body: `bytes`, `bytearray` or `memoryview` as they are, `str` as UTF-8.
pub fn body_bytes<'a>(body: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, [u8]>> {
    if let Ok(bytes) = body.cast::<PyBytes>() {
        return Ok(Cow::Borrowed(bytes.as_bytes()));
    }
    if let Ok(text) = body.cast::<PyString>() {
        return Ok(Cow::Owned(text.to_str()?.as_bytes().to_vec()));
    }
    if let Ok(array) = body.cast::<PyByteArray>() {
        return Ok(Cow::Owned(array.to_vec()));
    }
    if let Ok(bytes) = body.call_method0("tobytes") {
        if let Ok(bytes) = bytes.cast::<PyBytes>() {
            return Ok(Cow::Owned(bytes.as_bytes().to_vec()));
        }
    }
    Err(PyTypeError::new_err(format!("body must be bytes or str, not {}", body.get_type().name()?)))
}

/// Headers from a dict (or None): names must be str, values are converted with `str()`.
pub fn header_list(headers: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<(String, String)>> {
    let Some(headers) = headers.filter(|h| !h.is_none()) else {
        return Ok(Vec::new());
    };
    let dict = headers.cast::<PyDict>().map_err(|_| PyTypeError::new_err("headers must be a dict of str to str"))?;
    let mut list = Vec::with_capacity(dict.len());
    for (name, value) in dict.iter() {
        let name: String = name.extract().map_err(|_| PyTypeError::new_err("header names must be str"))?;
        let value = match value.cast::<PyString>() {
            Ok(text) => text.to_str()?.to_owned(),
            Err(_) => value.str()?.to_str()?.to_owned(),
        };
        list.push((name, value));
    }
    Ok(list)
}

/// A timeout in float seconds: finite and not negative.
pub fn duration(seconds: f64, what: &str) -> PyResult<Duration> {
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| PyValueError::new_err(format!("{what} must be a finite number of seconds >= 0, not {seconds}")))
}
