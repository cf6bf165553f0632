//! Conversions between PHP values and Rust, as PECL's C code makes them: arguments as
//! `zend_parse_parameters` converts them (with its TypeError messages), `$headers` arrays into
//! frame headers and back, and the PHP values the functions return.

use ext_php_rs::boxed::ZBox;
use ext_php_rs::exception::{PhpException, PhpResult};
use ext_php_rs::types::{ArrayKey, ZendHashTable, ZendStr, Zval};
use ext_php_rs::zend::ce;
use stompbox_core::frame::Frame;

use crate::ffi;
use crate::link::Headers;

/// `false`.
pub fn php_false() -> Zval {
    php_bool(false)
}

/// `true` or `false`.
pub fn php_bool(value: bool) -> Zval {
    let mut z = Zval::new();
    z.set_bool(value);
    z
}

/// A binary-safe PHP string.
pub fn php_bytes(bytes: &[u8]) -> Zval {
    let mut z = Zval::new();
    z.set_zend_string(ZendStr::new(bytes, false));
    z
}

/// An optional argument, with an explicit `null` treated as absent.
pub fn given(arg: Option<&Zval>) -> Option<&Zval> {
    arg.filter(|z| !z.is_null())
}

/// The PHP type name used in TypeError messages.
fn type_name(z: &Zval) -> String {
    if z.is_string() {
        "string".to_owned()
    } else if z.is_array() {
        "array".to_owned()
    } else if let Some(obj) = z.object() {
        obj.get_class_name().unwrap_or_else(|_| "object".to_owned())
    } else if z.is_null() {
        "null".to_owned()
    } else if z.is_bool() {
        "bool".to_owned()
    } else if z.is_long() {
        "int".to_owned()
    } else if z.is_double() {
        "float".to_owned()
    } else if z.is_resource() {
        "resource".to_owned()
    } else {
        "mixed".to_owned()
    }
}

fn type_error(function: &str, position: usize, name: &str, expected: &str, got: &Zval) -> PhpException {
    PhpException::new(
        format!("{function}(): Argument #{position} (${name}) must be of type {expected}, {} given", type_name(got)),
        0,
        ce::type_error(),
    )
}

/// A string parameter (`zend_parse_parameters` "S"): strings, numbers, bools and null convert;
/// arrays and objects without `__toString` are a TypeError.
pub fn string_arg(z: &Zval, function: &str, position: usize, name: &str) -> PhpResult<Vec<u8>> {
    if let Some(s) = z.zend_str() {
        return Ok(s.as_bytes().to_vec());
    }
    if z.is_null() {
        return Ok(Vec::new());
    }
    if z.is_array() || z.is_resource() {
        return Err(type_error(function, position, name, "string", z));
    }
    z.coerce_to_string().map(String::into_bytes).ok_or_else(|| type_error(function, position, name, "string", z))
}

/// An int parameter (`zend_parse_parameters` "l").
pub fn long_arg(z: &Zval, function: &str, position: usize, name: &str) -> PhpResult<i64> {
    if let Some(l) = z.long() {
        return Ok(l);
    }
    if let Some(d) = z.double() {
        if d.is_finite() {
            // PHP truncates floats with an integral value; others are deprecated but accepted.
            #[allow(clippy::cast_possible_truncation)]
            return Ok(d as i64);
        }
    }
    if let Some(b) = z.bool() {
        return Ok(i64::from(b));
    }
    if z.is_null() {
        return Ok(0);
    }
    if let Some(s) = z.str() {
        if let Ok(l) = s.trim().parse::<i64>() {
            return Ok(l);
        }
    }
    Err(type_error(function, position, name, "int", z))
}

/// A `?array $headers` parameter.
pub fn headers_arg<'a>(z: Option<&'a Zval>, function: &str, position: usize) -> PhpResult<Option<&'a ZendHashTable>> {
    match given(z) {
        None => Ok(None),
        Some(z) => match z.array() {
            Some(ht) => Ok(Some(ht)),
            None => Err(type_error(function, position, "headers", "?array", z)),
        },
    }
}

/// A `?array $headers` parameter as frame headers, in its order.
pub fn user_headers(headers: Option<&Zval>, function: &str, position: usize) -> PhpResult<Headers> {
    let mut frame = Headers::default();
    if let Some(ht) = headers_arg(headers, function, position)? {
        add_headers(&mut frame, ht);
    }
    Ok(frame)
}

/// PHP's `zval_get_string`, as bytes.
fn zval_bytes(z: &Zval) -> Vec<u8> {
    if let Some(s) = z.zend_str() {
        return s.as_bytes().to_vec();
    }
    if z.is_array() {
        ffi::warning("Array to string conversion");
        return b"Array".to_vec();
    }
    z.coerce_to_string().map(String::into_bytes).unwrap_or_default()
}

/// PECL's `FRAME_HEADER_FROM_HASHTABLE`: string keys are added (first wins), `content-length`
/// is dropped, and a numeric key stops the copy with a warning.
pub fn add_headers(into: &mut Headers, ht: &ZendHashTable) {
    for (key, value) in ht {
        let name = match key {
            ArrayKey::Long(_) => {
                ffi::warning("Invalid argument or parameter array");
                break;
            }
            ArrayKey::String(s) => s.into_bytes(),
            ArrayKey::Str(s) => s.as_bytes().to_vec(),
            ArrayKey::ZendString(s) => s.as_bytes().to_vec(),
        };
        if name != b"content-length" {
            into.add(&name, &zval_bytes(value));
        }
    }
}

/// The headers of a received frame as a PHP array (first duplicate wins).
pub fn headers_array(frame: &Frame) -> PhpResult<Zval> {
    let mut ht = ZendHashTable::new();
    for (name, value) in &frame.headers {
        if ht.get(name.as_str()).is_none() {
            ht.insert(name.as_str(), value.as_str())?;
        }
    }
    Ok(array(ht))
}

/// A PHP array.
pub fn array(ht: ZBox<ZendHashTable>) -> Zval {
    let mut z = Zval::new();
    z.set_hashtable(ht);
    z
}
