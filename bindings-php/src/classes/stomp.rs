//! `Stomp`: a connection to a STOMP broker, as an object. Each method runs the body it shares
//! with its procedural twin (`crate::api`).

use ext_php_rs::builders::ClassBuilder;
use ext_php_rs::class::RegisteredClass;
use ext_php_rs::exception::PhpResult;
use ext_php_rs::prelude::*;
use ext_php_rs::types::Zval;

use crate::api::{self, Caller, ConnectArgs, Connected};
use crate::convert::{php_bool, php_false};
use crate::ffi;
use crate::link::Link;

/// A connection to a STOMP broker (PECL's `Stomp`).
#[php_class]
#[php(name = "Stomp")]
pub struct Stomp {
    link: Option<Link>,
}

/// Registers the class (module startup). Done here rather than by `ModuleBuilder::class`, which
/// registers classes after our startup function (PECL registers `Stomp` first) and lists the
/// constructor last (PECL lists it first).
pub fn register() -> ext_php_rs::error::Result<()> {
    let mut class = ClassBuilder::new(Stomp::CLASS_NAME).object_override::<Stomp>();
    for (method, flags) in Stomp::method_builders() {
        class = class.method(method, flags);
    }
    class
        .registration(|ce, arg_info| {
            Stomp::get_metadata().set_ce(ce);
            Stomp::get_metadata().set_arg_info(arg_info);
        })
        .register()
}

impl Stomp {
    /// The connection, or the "constructor was not called" warning.
    fn link(&mut self) -> Option<&mut Link> {
        if self.link.is_none() {
            ffi::warning(api::ERR_NO_CTR);
        }
        self.link.as_mut()
    }

    /// Runs `body` on the connection; false (after the warning) without one.
    fn with_link(&mut self, body: impl FnOnce(&mut Link) -> PhpResult<Zval>) -> PhpResult<Zval> {
        match self.link() {
            Some(link) => body(link),
            None => Ok(php_false()),
        }
    }
}

#[php_impl]
impl Stomp {
    /// Connects; throws StompException on any failure.
    pub fn __construct(
        broker: Option<&Zval>,
        username: Option<&Zval>,
        password: Option<&Zval>,
        headers: Option<&Zval>,
    ) -> PhpResult<Self> {
        let args = ConnectArgs { broker, username, password, headers };
        match api::connect(&args, Caller::method("Stomp::__construct"))? {
            Connected::Link(link) => Ok(Stomp { link: Some(*link) }),
            // An exception is pending; this one is not thrown over it.
            Connected::Null | Connected::False => Err(PhpException::from_message("Stomp connection failed".into())),
        }
    }

    /// The session id from CONNECTED, or false.
    pub fn get_session_id(&mut self) -> PhpResult<Zval> {
        self.with_link(|link| Ok(api::session_id(link)))
    }

    /// Sends DISCONNECT and closes the connection. (PECL's returns true; PHP forbids a declared
    /// return type on `__destruct`, which ext-php-rs would need, so this returns NULL.)
    pub fn __destruct(&mut self) {
        match self.link.take() {
            Some(mut link) => link.close(),
            None => ffi::warning(api::ERR_NO_CTR),
        }
    }

    /// Sends a message (a string body, or a StompFrame whose command is used).
    pub fn send(&mut self, destination: &Zval, msg: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
        self.with_link(|link| api::send(link, Caller::method("Stomp::send"), destination, msg, headers))
    }

    /// Subscribes (with `ack:client`, as PECL).
    pub fn subscribe(&mut self, destination: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
        self.with_link(|link| api::subscribe(link, Caller::method("Stomp::subscribe"), destination, headers))
    }

    /// Whether a frame is ready to read (waits up to the read timeout).
    pub fn has_frame(&mut self) -> PhpResult<Zval> {
        self.with_link(|link| Ok(php_bool(link.has_frame())))
    }

    /// The next frame as a StompFrame (or `$class_name`), false on timeout.
    pub fn read_frame(&mut self, class_name: Option<&Zval>) -> PhpResult<Zval> {
        self.with_link(|link| api::read_frame(link, Caller::method("Stomp::readFrame"), class_name))
    }

    /// Ends a subscription (by destination).
    pub fn unsubscribe(&mut self, destination: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
        self.with_link(|link| api::unsubscribe(link, Caller::method("Stomp::unsubscribe"), destination, headers))
    }

    /// Starts a transaction.
    pub fn begin(&mut self, transaction_id: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
        self.with_link(|link| api::transaction(link, Caller::method("Stomp::begin"), b"BEGIN", transaction_id, headers))
    }

    /// Commits a transaction.
    pub fn commit(&mut self, transaction_id: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
        self.with_link(|link| {
            api::transaction(link, Caller::method("Stomp::commit"), b"COMMIT", transaction_id, headers)
        })
    }

    /// Rolls back a transaction.
    pub fn abort(&mut self, transaction_id: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
        self.with_link(|link| api::transaction(link, Caller::method("Stomp::abort"), b"ABORT", transaction_id, headers))
    }

    /// Acknowledges a message (id string or StompFrame).
    pub fn ack(&mut self, msg: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
        self.with_link(|link| api::acknowledge(link, Caller::method("Stomp::ack"), b"ACK", msg, headers))
    }

    /// Rejects a message (id string or StompFrame).
    pub fn nack(&mut self, msg: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
        self.with_link(|link| api::acknowledge(link, Caller::method("Stomp::nack"), b"NACK", msg, headers))
    }

    /// The last error of this connection, or false.
    pub fn error(&mut self) -> PhpResult<Zval> {
        self.with_link(|link| Ok(api::error(link)))
    }

    /// Sets the read timeout; returns NULL.
    pub fn set_read_timeout(&mut self, seconds: &Zval, microseconds: Option<&Zval>) -> PhpResult<()> {
        let (sec, usec) = api::read_timeout_args(Caller::method("Stomp::setReadTimeout"), seconds, microseconds)?;
        if let Some(link) = self.link() {
            link.set_read_timeout(sec, usec);
        }
        Ok(())
    }

    /// `['sec' => int, 'usec' => int]`.
    pub fn get_read_timeout(&mut self) -> PhpResult<Zval> {
        self.with_link(|link| api::read_timeout(link))
    }
}
