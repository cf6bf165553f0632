//! The procedural `stomp_*` functions, on `stomp connection` resources. Each runs the body it
//! shares with its `Stomp` method (`crate::api`).

use ext_php_rs::builders::ModuleBuilder;
use ext_php_rs::exception::PhpResult;
use ext_php_rs::prelude::*;
use ext_php_rs::types::Zval;

use crate::api::{self, Caller, ConnectArgs, Connected};
use crate::convert::{php_bool, php_false};
use crate::ffi;
use crate::link::Link;

/// Adds the functions to the module, in PECL's order.
pub fn build_module(module: ModuleBuilder) -> ModuleBuilder {
    module
        .function(wrap_function!(stomp_version))
        .function(wrap_function!(stomp_connect))
        .function(wrap_function!(stomp_connect_error))
        .function(wrap_function!(stomp_get_session_id))
        .function(wrap_function!(stomp_close))
        .function(wrap_function!(stomp_send))
        .function(wrap_function!(stomp_subscribe))
        .function(wrap_function!(stomp_has_frame))
        .function(wrap_function!(stomp_read_frame))
        .function(wrap_function!(stomp_unsubscribe))
        .function(wrap_function!(stomp_begin))
        .function(wrap_function!(stomp_commit))
        .function(wrap_function!(stomp_abort))
        .function(wrap_function!(stomp_ack))
        .function(wrap_function!(stomp_nack))
        .function(wrap_function!(stomp_error))
        .function(wrap_function!(stomp_set_read_timeout))
        .function(wrap_function!(stomp_get_read_timeout))
}

/// Runs `body` on the connection behind `$link` (NULL when it is not one: a TypeError is
/// pending).
fn with_link(link: &Zval, body: impl FnOnce(&mut Link) -> PhpResult<Zval>) -> PhpResult<Zval> {
    match ffi::fetch_link(link) {
        Some(link) => body(link),
        None => Ok(Zval::null()),
    }
}

/// The extension version ("2.0.3", as Debian's PECL build).
#[php_function]
pub fn stomp_version() -> String {
    api::VERSION.to_owned()
}

/// Connects; returns a `stomp connection` resource, false on failure, NULL on a bad URI.
#[php_function]
pub fn stomp_connect(
    broker: Option<&Zval>,
    username: Option<&Zval>,
    password: Option<&Zval>,
    headers: Option<&Zval>,
) -> PhpResult<Zval> {
    let args = ConnectArgs { broker, username, password, headers };
    Ok(match api::connect(&args, Caller::function("stomp_connect"))? {
        Connected::Link(link) => ffi::new_resource(*link),
        Connected::Null => Zval::null(),
        Connected::False => php_false(),
    })
}

/// The last connect error of this request, or NULL.
#[php_function]
pub fn stomp_connect_error() -> Option<String> {
    api::connect_error()
}

/// See `Stomp::getSessionId`.
#[php_function]
pub fn stomp_get_session_id(link: &Zval) -> PhpResult<Zval> {
    with_link(link, |l| Ok(api::session_id(l)))
}

/// Sends DISCONNECT and frees the resource; true.
#[php_function]
pub fn stomp_close(link: &Zval) -> PhpResult<Zval> {
    with_link(link, |_| Ok(php_bool(true))).inspect(|result| {
        if result.is_true() {
            ffi::close_resource(link);
        }
    })
}

/// See `Stomp::send`.
#[php_function]
pub fn stomp_send(link: &Zval, destination: &Zval, msg: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
    with_link(link, |l| api::send(l, Caller::function("stomp_send"), destination, msg, headers))
}

/// See `Stomp::subscribe`.
#[php_function]
pub fn stomp_subscribe(link: &Zval, destination: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
    with_link(link, |l| api::subscribe(l, Caller::function("stomp_subscribe"), destination, headers))
}

/// See `Stomp::hasFrame`.
#[php_function]
pub fn stomp_has_frame(link: &Zval) -> PhpResult<Zval> {
    with_link(link, |l| Ok(php_bool(l.has_frame())))
}

/// See `Stomp::readFrame`; without `$class_name`, returns an array.
#[php_function]
pub fn stomp_read_frame(link: &Zval, class_name: Option<&Zval>) -> PhpResult<Zval> {
    with_link(link, |l| api::read_frame(l, Caller::function("stomp_read_frame"), class_name))
}

/// See `Stomp::unsubscribe`.
#[php_function]
pub fn stomp_unsubscribe(link: &Zval, destination: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
    with_link(link, |l| api::unsubscribe(l, Caller::function("stomp_unsubscribe"), destination, headers))
}

/// See `Stomp::begin`.
#[php_function]
pub fn stomp_begin(link: &Zval, transaction_id: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
    with_link(link, |l| api::transaction(l, Caller::function("stomp_begin"), b"BEGIN", transaction_id, headers))
}

/// See `Stomp::commit`.
#[php_function]
pub fn stomp_commit(link: &Zval, transaction_id: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
    with_link(link, |l| api::transaction(l, Caller::function("stomp_commit"), b"COMMIT", transaction_id, headers))
}

/// See `Stomp::abort`.
#[php_function]
pub fn stomp_abort(link: &Zval, transaction_id: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
    with_link(link, |l| api::transaction(l, Caller::function("stomp_abort"), b"ABORT", transaction_id, headers))
}

/// See `Stomp::ack`.
#[php_function]
pub fn stomp_ack(link: &Zval, msg: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
    with_link(link, |l| api::acknowledge(l, Caller::function("stomp_ack"), b"ACK", msg, headers))
}

/// See `Stomp::nack`.
#[php_function]
pub fn stomp_nack(link: &Zval, msg: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
    with_link(link, |l| api::acknowledge(l, Caller::function("stomp_nack"), b"NACK", msg, headers))
}

/// See `Stomp::error`.
#[php_function]
pub fn stomp_error(link: &Zval) -> PhpResult<Zval> {
    with_link(link, |l| Ok(api::error(l)))
}

/// See `Stomp::setReadTimeout`.
#[php_function]
pub fn stomp_set_read_timeout(link: &Zval, seconds: &Zval, microseconds: Option<&Zval>) -> PhpResult<()> {
    let (sec, usec) = api::read_timeout_args(Caller::function("stomp_set_read_timeout"), seconds, microseconds)?;
    if let Some(l) = ffi::fetch_link(link) {
        l.set_read_timeout(sec, usec);
    }
    Ok(())
}

/// See `Stomp::getReadTimeout`.
#[php_function]
pub fn stomp_get_read_timeout(link: &Zval) -> PhpResult<Zval> {
    with_link(link, |l| api::read_timeout(l))
}
