//! The body of every PECL function, shared by the `Stomp` methods and the procedural
//! `stomp_*` functions (PECL aliases one to the other): argument conversion as `zend_parse_parameters`
//! does it, the frames each call builds, and the PHP values and warnings it returns.

use std::cell::RefCell;

use ext_php_rs::convert::IntoZval;
use ext_php_rs::exception::{PhpException, PhpResult};
use ext_php_rs::types::{ArrayKey, ZendHashTable, ZendStr, Zval};
use ext_php_rs::zend::{ce, ClassEntry, ExecutorGlobals};
use stompbox_core::frame::Frame;

use crate::ffi;
use crate::link::{ConnectError, ConnectParams, Headers, Link};

/// The version `stomp_version()` reports (Debian's PECL build).
pub const VERSION: &str = "2.0.3";

/// "Stomp constructor was not called".
pub const ERR_NO_CTR: &str = "Stomp constructor was not called";

thread_local! {
    /// `stomp_connect_error()`: the last connect failure of this request (PECL clears it at
    /// request startup, and so do we). The only state kept outside a connection.
    static CONNECT_ERROR: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Request startup: forget the previous request's connect error.
pub fn reset_connect_error() {
    CONNECT_ERROR.with(|e| *e.borrow_mut() = None);
}

/// `stomp_connect_error()`.
pub fn connect_error() -> Option<String> {
    CONNECT_ERROR.with(|e| e.borrow().clone())
}

fn set_connect_error(message: &str) {
    CONNECT_ERROR.with(|e| *e.borrow_mut() = Some(message.to_owned()));
}

/// `false`.
pub fn php_false() -> Zval {
    let mut z = Zval::new();
    z.set_bool(false);
    z
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
fn given(arg: Option<&Zval>) -> Option<&Zval> {
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

fn frame_class() -> Option<&'static ClassEntry> {
    ClassEntry::try_find("StompFrame")
}

fn exception_class() -> &'static ClassEntry {
    ClassEntry::try_find("StompException").unwrap_or_else(ce::exception)
}

/// Throws a StompException with PECL's message and details.
pub fn throw(message: &str, details: Option<&[u8]>) {
    ffi::throw_with_details(exception_class(), message, details);
}

/// The `StompFrame` (or subclass) object in `z`, if it is one.
fn as_frame_object(z: &Zval) -> Option<&ext_php_rs::types::ZendObject> {
    let obj = z.object()?;
    let frame_ce = frame_class()?;
    obj.instance_of(frame_ce).then_some(obj)
}

fn property<'a>(obj: &'a ext_php_rs::types::ZendObject, name: &str) -> Option<&'a Zval> {
    obj.get_property::<&Zval>(name).ok()
}

/// Arguments of a connect, before INI defaults.
pub struct ConnectArgs<'a> {
    /// `$broker`.
    pub broker: Option<&'a Zval>,
    /// `$username`.
    pub username: Option<&'a Zval>,
    /// `$password`.
    pub password: Option<&'a Zval>,
    /// `$headers`.
    pub headers: Option<&'a Zval>,
}

fn ini_string(values: &std::collections::HashMap<String, Option<String>>, key: &str, default: &str) -> String {
    values.get(key).cloned().flatten().unwrap_or_else(|| default.to_owned())
}

fn ini_long(values: &std::collections::HashMap<String, Option<String>>, key: &str, default: i64) -> i64 {
    values.get(key).cloned().flatten().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

/// How a connect ended, for the caller to turn into an object, a resource, NULL or false.
pub enum Connected {
    /// Connected.
    Link(Box<Link>),
    /// URI validation failed (procedural: NULL).
    Null,
    /// Any other failure (procedural: false); an exception may be pending.
    False,
}

/// `stomp_connect()` / `new Stomp()`. `oop` throws every failure; the procedural form only
/// throws for a broker ERROR, as PECL.
pub fn connect(args: &ConnectArgs<'_>, function: &str, oop: bool) -> PhpResult<Connected> {
    let broker = match given(args.broker) {
        Some(z) => Some(string_arg(z, function, 1, "broker")?),
        None => None,
    };
    let username = match given(args.username) {
        Some(z) => Some(string_arg(z, function, 2, "username")?),
        None => None,
    };
    let password = match given(args.password) {
        Some(z) => Some(string_arg(z, function, 3, "password")?),
        None => None,
    };
    let header_table = headers_arg(args.headers, function, 4)?;
    let ini = ExecutorGlobals::get().ini_values();
    let mut headers = Headers::default();
    if let Some(ht) = header_table {
        add_headers(&mut headers, ht);
    }
    let params = ConnectParams {
        broker: match broker {
            Some(b) => String::from_utf8_lossy(&b).into_owned(),
            None => ini_string(&ini, "stomp.default_broker", "tcp://localhost:61613"),
        },
        username: username.unwrap_or_else(|| ini_string(&ini, "stomp.default_username", "").into_bytes()),
        password: password.unwrap_or_else(|| ini_string(&ini, "stomp.default_password", "").into_bytes()),
        headers,
        read_timeout: (
            ini_long(&ini, "stomp.default_read_timeout_sec", 2),
            ini_long(&ini, "stomp.default_read_timeout_usec", 0),
        ),
        connection_timeout: (
            ini_long(&ini, "stomp.default_connection_timeout_sec", 2),
            ini_long(&ini, "stomp.default_connection_timeout_usec", 0),
        ),
    };
    drop(ini);
    match Link::connect(&params) {
        Ok(link) => Ok(Connected::Link(Box::new(link))),
        Err(ConnectError::BadUri(message)) => {
            set_connect_error(message);
            if oop {
                throw(message, None);
            }
            Ok(Connected::Null)
        }
        Err(ConnectError::Failed { message, details }) => {
            set_connect_error(&message);
            if oop {
                throw(&message, details.as_deref().map(str::as_bytes));
            }
            Ok(Connected::False)
        }
        Err(ConnectError::Broker { message, details }) => {
            throw(&message, Some(&details));
            Ok(Connected::False)
        }
        Err(ConnectError::Silent) => Ok(Connected::False),
    }
}

/// `send($destination, $msg, $headers)`; `msg_position` is 2 (method) or 3 (function).
pub fn send(
    link: &mut Link,
    function: &str,
    destination: &Zval,
    msg: &Zval,
    headers: Option<&Zval>,
    msg_position: usize,
) -> PhpResult<Zval> {
    let destination = string_arg(destination, function, msg_position - 1, "destination")?;
    let user = headers_arg(headers, function, msg_position + 1)?;
    if destination.is_empty() {
        ffi::warning("Destination can not be empty");
        return Ok(php_false());
    }
    let mut frame = Headers::default();
    if let Some(ht) = user {
        add_headers(&mut frame, ht);
    }
    frame.add(b"destination", &destination);
    let mut command = b"SEND".to_vec();
    let body;
    if let Some(s) = msg.zend_str() {
        body = s.as_bytes().to_vec();
    } else if let Some(obj) = as_frame_object(msg) {
        if let Some(c) = property(obj, "command").and_then(Zval::zend_str) {
            command = c.as_bytes().to_vec();
        }
        body = property(obj, "body").and_then(Zval::zend_str).map(|b| b.as_bytes().to_vec()).unwrap_or_default();
        if let Some(ht) = property(obj, "headers").and_then(Zval::array) {
            add_headers(&mut frame, ht);
        }
    } else {
        ffi::warning(&format!("Expects parameter {msg_position} to be a string or a StompFrame object."));
        return Ok(php_false());
    }
    Ok(php_bool(link.transmit(&command, &frame, &body)))
}

/// `subscribe($destination, $headers)`.
pub fn subscribe(
    link: &mut Link,
    function: &str,
    destination: &Zval,
    headers: Option<&Zval>,
    first: usize,
) -> PhpResult<Zval> {
    let Some((destination, mut frame)) = destination_and_headers(destination, headers, function, first)? else {
        return Ok(php_false());
    };
    frame.update(b"ack", b"client");
    frame.update(b"destination", &destination);
    Ok(php_bool(link.transmit(b"SUBSCRIBE", &frame, b"")))
}

/// `unsubscribe($destination, $headers)`.
pub fn unsubscribe(
    link: &mut Link,
    function: &str,
    destination: &Zval,
    headers: Option<&Zval>,
    first: usize,
) -> PhpResult<Zval> {
    let Some((destination, mut frame)) = destination_and_headers(destination, headers, function, first)? else {
        return Ok(php_false());
    };
    frame.add(b"destination", &destination);
    Ok(php_bool(link.transmit(b"UNSUBSCRIBE", &frame, b"")))
}

/// The `$destination` and `$headers` arguments as PECL reads them (types first, then the empty
/// destination, which warns): `None` after that warning.
fn destination_and_headers(
    destination: &Zval,
    headers: Option<&Zval>,
    function: &str,
    first: usize,
) -> PhpResult<Option<(Vec<u8>, Headers)>> {
    let destination = string_arg(destination, function, first, "destination")?;
    let frame = user_headers(headers, function, first + 1)?;
    if destination.is_empty() {
        ffi::warning("Destination can not be empty");
        return Ok(None);
    }
    Ok(Some((destination, frame)))
}

/// The caller's `$headers` array as frame headers, in its order.
fn user_headers(headers: Option<&Zval>, function: &str, position: usize) -> PhpResult<Headers> {
    let mut frame = Headers::default();
    if let Some(ht) = headers_arg(headers, function, position)? {
        add_headers(&mut frame, ht);
    }
    Ok(frame)
}

/// `begin`, `commit`, `abort`.
pub fn transaction(
    link: &mut Link,
    function: &str,
    command: &[u8],
    id: &Zval,
    headers: Option<&Zval>,
    first: usize,
) -> PhpResult<Zval> {
    let id = string_arg(id, function, first, "transaction_id")?;
    let user = headers_arg(headers, function, first + 1)?;
    let mut frame = Headers::default();
    if !id.is_empty() {
        frame.add(b"transaction", &id);
    }
    if let Some(ht) = user {
        add_headers(&mut frame, ht);
    }
    Ok(php_bool(link.transmit(command, &frame, b"")))
}

/// `ack`, `nack`; `msg_position` is 1 (method) or 2 (function).
pub fn acknowledge(
    link: &mut Link,
    function: &str,
    command: &[u8],
    msg: &Zval,
    headers: Option<&Zval>,
    msg_position: usize,
) -> PhpResult<Zval> {
    let mut frame = user_headers(headers, function, msg_position + 1)?;
    if let Some(s) = msg.zend_str() {
        frame.add(b"message-id", s.as_bytes());
    } else if let Some(obj) = as_frame_object(msg) {
        if let Some(ht) = property(obj, "headers").and_then(Zval::array) {
            add_headers(&mut frame, ht);
        }
    } else {
        // PECL numbers this parameter as in `send` (2 for methods, 3 for functions).
        ffi::warning(&format!("Expects parameter {} to be a string or a StompFrame object.", msg_position + 1));
        return Ok(php_false());
    }
    Ok(php_bool(link.transmit(command, &frame, b"")))
}

/// The headers of a received frame as a PHP array (first duplicate wins).
fn headers_array(frame: &Frame) -> PhpResult<Zval> {
    let mut ht = ZendHashTable::new();
    for (name, value) in &frame.headers {
        if ht.get(name.as_str()).is_none() {
            ht.insert(name.as_str(), value.as_str())?;
        }
    }
    let mut z = Zval::new();
    z.set_hashtable(ht);
    Ok(z)
}

/// `readFrame([$class_name])`. `oop` picks StompFrame as the default class; the procedural
/// form returns an array unless a class is named.
pub fn read_frame(
    link: &mut Link,
    function: &str,
    class_name: Option<&Zval>,
    oop: bool,
    position: usize,
) -> PhpResult<Zval> {
    let class_name = match given(class_name) {
        Some(z) => string_arg(z, function, position, "class_name")?,
        None => Vec::new(),
    };
    let mut class = None;
    if !class_name.is_empty() {
        let name = String::from_utf8_lossy(&class_name).into_owned();
        class = ClassEntry::try_find(&name);
        if class.is_none() {
            ffi::warning(&format!("Could not find class '{name}'"));
            class = frame_class();
        }
    } else if oop {
        class = frame_class();
    }
    let Some(frame) = link.read_frame() else {
        return Ok(php_false());
    };
    if frame.command == stompbox_core::frame::Command::Error {
        if let Some(message) = frame.header("message") {
            throw(message, Some(&frame.body));
            return Ok(php_false());
        }
    }
    let command = php_bytes(frame.command.as_str().as_bytes());
    let headers = headers_array(&frame)?;
    // PECL has a body (possibly empty) whenever the frame had content-length, else only when
    // bytes came before the NUL.
    let has_body = !frame.body.is_empty() || frame.header("content-length").is_some();
    let body = if has_body { php_bytes(&frame.body) } else { Zval::null() };
    match class {
        Some(ce) => {
            let object = ce.new();
            if !ce.constructor.is_null() {
                let result = object.try_call_method("__construct", vec![&command, &headers, &body]);
                if result.is_err() && !ExecutorGlobals::has_exception() {
                    let ctor = format!("Could not execute {}::__construct()", ce.name().unwrap_or("StompFrame"));
                    return Err(PhpException::from_message(ctor));
                }
            }
            object.into_zval(false).map_err(|e| PhpException::from_message(e.to_string()))
        }
        None => {
            let mut ht = ZendHashTable::new();
            ht.insert("command", command)?;
            if has_body {
                ht.insert("body", body)?;
            }
            ht.insert("headers", headers)?;
            let mut z = Zval::new();
            z.set_hashtable(ht);
            Ok(z)
        }
    }
}

/// `getReadTimeout()`.
pub fn read_timeout(link: &Link) -> PhpResult<Zval> {
    let (sec, usec) = link.read_timeout();
    let mut ht = ZendHashTable::new();
    ht.insert("sec", sec)?;
    ht.insert("usec", usec)?;
    let mut z = Zval::new();
    z.set_hashtable(ht);
    Ok(z)
}

/// `getSessionId()`: the session or false.
pub fn session_id(link: &Link) -> Zval {
    match link.session() {
        Some(s) => php_bytes(s.as_bytes()),
        None => php_false(),
    }
}

/// `error()`: the last error or false.
pub fn error(link: &Link) -> Zval {
    match link.error() {
        Some(e) => php_bytes(e.as_bytes()),
        None => php_false(),
    }
}
