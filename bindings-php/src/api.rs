//! The body of every PECL call, shared by the `Stomp` methods and the procedural `stomp_*`
//! functions (PECL aliases one to the other): which arguments it reads, the frame it sends,
//! and the PHP value, warning or exception it ends with.

use std::cell::RefCell;

use ext_php_rs::convert::IntoZval;
use ext_php_rs::exception::{PhpException, PhpResult};
use ext_php_rs::types::{ZendHashTable, Zval};
use ext_php_rs::zend::{ClassEntry, ExecutorGlobals};
use stompbox_core::frame::Command;

use crate::classes::stomp_exception::throw;
use crate::classes::stomp_frame;
use crate::convert::{
    add_headers, array, given, headers_arg, headers_array, long_arg, php_bool, php_bytes, php_false, string_arg,
    user_headers,
};
use crate::ffi;
use crate::ini;
use crate::link::{ConnectError, ConnectParams, Headers, Link};

/// The version `stomp_version()` reports (Debian's PECL build).
pub const VERSION: &str = "2.0.3";

/// "Stomp constructor was not called".
pub const ERR_NO_CTR: &str = "Stomp constructor was not called";

/// Which PECL entry point runs a body: its name (for messages) and its style.
#[derive(Clone, Copy)]
pub struct Caller {
    name: &'static str,
    method: bool,
}

impl Caller {
    /// A `Stomp` method, e.g. `Stomp::send`.
    pub const fn method(name: &'static str) -> Self {
        Caller { name, method: true }
    }

    /// A procedural function, e.g. `stomp_send`.
    pub const fn function(name: &'static str) -> Self {
        Caller { name, method: false }
    }

    /// The position PHP reports for the method's `n`th parameter: a function has `$link` first.
    fn position(self, n: usize) -> usize {
        if self.method {
            n
        } else {
            n + 1
        }
    }
}

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

/// How a connect ended, for the caller to turn into an object, a resource, NULL or false.
pub enum Connected {
    /// Connected.
    Link(Box<Link>),
    /// URI validation failed (procedural: NULL).
    Null,
    /// Any other failure (procedural: false); an exception may be pending.
    False,
}

/// `new Stomp()` / `stomp_connect()` (no `$link`: the same positions in both styles). The
/// constructor throws every failure; the function only a broker ERROR, as PECL.
pub fn connect(args: &ConnectArgs<'_>, caller: Caller) -> PhpResult<Connected> {
    let optional_string = |arg: Option<&Zval>, position, name| match given(arg) {
        Some(z) => string_arg(z, caller.name, position, name).map(Some),
        None => Ok(None),
    };
    let broker = optional_string(args.broker, 1, "broker")?;
    let username = optional_string(args.username, 2, "username")?;
    let password = optional_string(args.password, 3, "password")?;
    let header_table = headers_arg(args.headers, caller.name, 4)?;
    let defaults = ini::connect_defaults();
    let mut headers = Headers::default();
    if let Some(ht) = header_table {
        add_headers(&mut headers, ht);
    }
    let params = ConnectParams {
        broker: broker.map_or(defaults.broker, |b| String::from_utf8_lossy(&b).into_owned()),
        username: username.unwrap_or(defaults.username),
        password: password.unwrap_or(defaults.password),
        headers,
        read_timeout: defaults.read_timeout,
        connection_timeout: defaults.connection_timeout,
    };
    match Link::connect(&params) {
        Ok(link) => Ok(Connected::Link(Box::new(link))),
        Err(ConnectError::BadUri(message)) => {
            set_connect_error(message);
            if caller.method {
                throw(message, None);
            }
            Ok(Connected::Null)
        }
        Err(ConnectError::Failed { message, details }) => {
            set_connect_error(&message);
            if caller.method {
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

/// `send($destination, $msg, $headers)`: `$msg` is a body, or a StompFrame whose command,
/// headers and body are sent.
pub fn send(
    link: &mut Link,
    caller: Caller,
    destination: &Zval,
    msg: &Zval,
    headers: Option<&Zval>,
) -> PhpResult<Zval> {
    let destination = string_arg(destination, caller.name, caller.position(1), "destination")?;
    let user = headers_arg(headers, caller.name, caller.position(3))?;
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
    } else if let Some(obj) = stomp_frame::as_frame(msg) {
        if let Some(c) = stomp_frame::property(obj, "command").and_then(Zval::zend_str) {
            command = c.as_bytes().to_vec();
        }
        body = stomp_frame::property(obj, "body")
            .and_then(Zval::zend_str)
            .map(|b| b.as_bytes().to_vec())
            .unwrap_or_default();
        if let Some(ht) = stomp_frame::property(obj, "headers").and_then(Zval::array) {
            add_headers(&mut frame, ht);
        }
    } else {
        ffi::warning(&format!("Expects parameter {} to be a string or a StompFrame object.", caller.position(2)));
        return Ok(php_false());
    }
    Ok(php_bool(link.transmit(&command, &frame, &body)))
}

/// `subscribe($destination, $headers)` (with `ack:client`, as PECL).
pub fn subscribe(link: &mut Link, caller: Caller, destination: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
    let Some((destination, mut frame)) = destination_and_headers(caller, destination, headers)? else {
        return Ok(php_false());
    };
    frame.update(b"ack", b"client");
    frame.update(b"destination", &destination);
    Ok(php_bool(link.transmit(b"SUBSCRIBE", &frame, b"")))
}

/// `unsubscribe($destination, $headers)`.
pub fn unsubscribe(link: &mut Link, caller: Caller, destination: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
    let Some((destination, mut frame)) = destination_and_headers(caller, destination, headers)? else {
        return Ok(php_false());
    };
    frame.add(b"destination", &destination);
    Ok(php_bool(link.transmit(b"UNSUBSCRIBE", &frame, b"")))
}

/// The `$destination` and `$headers` arguments as PECL reads them (types first, then the empty
/// destination, which warns): `None` after that warning.
fn destination_and_headers(
    caller: Caller,
    destination: &Zval,
    headers: Option<&Zval>,
) -> PhpResult<Option<(Vec<u8>, Headers)>> {
    let destination = string_arg(destination, caller.name, caller.position(1), "destination")?;
    let frame = user_headers(headers, caller.name, caller.position(2))?;
    if destination.is_empty() {
        ffi::warning("Destination can not be empty");
        return Ok(None);
    }
    Ok(Some((destination, frame)))
}

/// `begin`, `commit`, `abort` (`command`) with `$transaction_id` and `$headers`.
pub fn transaction(
    link: &mut Link,
    caller: Caller,
    command: &[u8],
    id: &Zval,
    headers: Option<&Zval>,
) -> PhpResult<Zval> {
    let id = string_arg(id, caller.name, caller.position(1), "transaction_id")?;
    let user = headers_arg(headers, caller.name, caller.position(2))?;
    let mut frame = Headers::default();
    if !id.is_empty() {
        frame.add(b"transaction", &id);
    }
    if let Some(ht) = user {
        add_headers(&mut frame, ht);
    }
    Ok(php_bool(link.transmit(command, &frame, b"")))
}

/// `ack`, `nack` (`command`) with `$msg` (a message id or a StompFrame) and `$headers`.
pub fn acknowledge(
    link: &mut Link,
    caller: Caller,
    command: &[u8],
    msg: &Zval,
    headers: Option<&Zval>,
) -> PhpResult<Zval> {
    let mut frame = user_headers(headers, caller.name, caller.position(2))?;
    if let Some(s) = msg.zend_str() {
        frame.add(b"message-id", s.as_bytes());
    } else if let Some(obj) = stomp_frame::as_frame(msg) {
        if let Some(ht) = stomp_frame::property(obj, "headers").and_then(Zval::array) {
            add_headers(&mut frame, ht);
        }
    } else {
        // PECL numbers this parameter as in `send` (2 for methods, 3 for functions).
        ffi::warning(&format!("Expects parameter {} to be a string or a StompFrame object.", caller.position(2)));
        return Ok(php_false());
    }
    Ok(php_bool(link.transmit(command, &frame, b"")))
}

/// `readFrame([$class_name])`: the next frame as an object of `$class_name` (methods default
/// to StompFrame; functions return an array unless a class is named), false on timeout.
pub fn read_frame(link: &mut Link, caller: Caller, class_name: Option<&Zval>) -> PhpResult<Zval> {
    let class_name = match given(class_name) {
        Some(z) => string_arg(z, caller.name, caller.position(1), "class_name")?,
        None => Vec::new(),
    };
    let mut class = None;
    if !class_name.is_empty() {
        let name = String::from_utf8_lossy(&class_name).into_owned();
        class = ClassEntry::try_find(&name);
        if class.is_none() {
            ffi::warning(&format!("Could not find class '{name}'"));
            class = stomp_frame::class();
        }
    } else if caller.method {
        class = stomp_frame::class();
    }
    let Some(frame) = link.read_frame() else {
        return Ok(php_false());
    };
    if frame.command == Command::Error {
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
            Ok(array(ht))
        }
    }
}

/// `setReadTimeout($seconds, $microseconds)`: the arguments, for the caller to apply.
pub fn read_timeout_args(caller: Caller, seconds: &Zval, microseconds: Option<&Zval>) -> PhpResult<(i64, i64)> {
    let sec = long_arg(seconds, caller.name, caller.position(1), "seconds")?;
    let usec = match microseconds {
        Some(z) => long_arg(z, caller.name, caller.position(2), "microseconds")?,
        None => 0,
    };
    Ok((sec, usec))
}

/// `getReadTimeout()`: `['sec' => int, 'usec' => int]`.
pub fn read_timeout(link: &Link) -> PhpResult<Zval> {
    let (sec, usec) = link.read_timeout();
    let mut ht = ZendHashTable::new();
    ht.insert("sec", sec)?;
    ht.insert("usec", usec)?;
    Ok(array(ht))
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
