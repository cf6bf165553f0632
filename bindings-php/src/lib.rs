//! `stomp`: a drop-in replacement for PHP's PECL stomp extension (2.0.x), on the stompbox core
//! client.
//!
//! Same classes (`Stomp`, `StompFrame`, `StompException`), methods, procedural `stomp_*`
//! functions, `stomp connection` resources, INI settings and wire frames as PECL; see
//! `bindings-php/README.md` for the few differences.
//!
//! - [`link`]: one connection, and the frames PECL writes (no PHP types).
//! - [`api`]: the body of each PECL function, shared by methods and functions.
//! - `ffi`: the engine calls ext-php-rs does not wrap (resources, warnings, exception details).
//! - `classes`: `StompFrame` and `StompException`, plain PHP classes with declared properties.

mod api;
mod classes;
mod ffi;
pub mod link;

use ext_php_rs::exception::PhpResult;
use ext_php_rs::flags::IniEntryPermission;
use ext_php_rs::prelude::*;
use ext_php_rs::types::Zval;
use ext_php_rs::zend::{IniEntryDef, IniEntryDefs, ModuleEntry};
use ext_php_rs::{info_table_end, info_table_row, info_table_start};

use crate::api::{ConnectArgs, Connected};
use crate::link::Link;

/// An INI entry modifiable everywhere (`PHP_INI_ALL`) that `ini_restore()` can reset.
const fn ini_entry(name: &'static std::ffi::CStr, default: &'static std::ffi::CStr) -> IniEntryDef {
    let mut entry = IniEntryDef::new(name, default, IniEntryPermission::All);
    entry.on_modify = Some(ffi::accept_ini_change);
    entry
}

/// The INI settings, with PECL's names and defaults (all `PHP_INI_ALL`).
static INI_ENTRIES: IniEntryDefs<8> = IniEntryDefs::new([
    ini_entry(c"stomp.default_broker", c"tcp://localhost:61613"),
    ini_entry(c"stomp.default_username", c""),
    ini_entry(c"stomp.default_password", c""),
    ini_entry(c"stomp.default_read_timeout_sec", c"2"),
    ini_entry(c"stomp.default_read_timeout_usec", c"0"),
    ini_entry(c"stomp.default_connection_timeout_sec", c"2"),
    ini_entry(c"stomp.default_connection_timeout_usec", c"0"),
    IniEntryDef::end(),
]);

/// A connection to a STOMP broker (PECL's `Stomp`).
#[php_class]
#[php(name = "Stomp")]
pub struct Stomp {
    link: Option<Link>,
}

impl Stomp {
    /// The connection, or the "constructor was not called" warning.
    fn link(&mut self) -> Option<&mut Link> {
        if self.link.is_none() {
            ffi::warning(api::ERR_NO_CTR);
        }
        self.link.as_mut()
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
        match api::connect(&args, "Stomp::__construct", true)? {
            Connected::Link(link) => Ok(Stomp { link: Some(*link) }),
            // An exception is pending; this one is not thrown over it.
            Connected::Null | Connected::False => Err(PhpException::from_message("Stomp connection failed".into())),
        }
    }

    /// The session id from CONNECTED, or false.
    pub fn get_session_id(&mut self) -> Zval {
        self.link().map_or_else(api::php_false, |l| api::session_id(l))
    }

    /// Sends DISCONNECT and closes the connection. (PECL's returns true; PHP forbids a
    /// declared return type on `__destruct`, which ext-php-rs would need, so this returns NULL.)
    pub fn __destruct(&mut self) {
        match self.link.take() {
            Some(mut link) => link.close(),
            None => ffi::warning(api::ERR_NO_CTR),
        }
    }

    /// Sends a message (a string body, or a StompFrame whose command is used).
    pub fn send(&mut self, destination: &Zval, msg: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
        match self.link() {
            Some(link) => api::send(link, "Stomp::send", destination, msg, headers, 2),
            None => Ok(api::php_false()),
        }
    }

    /// Subscribes (with `ack:client`, as PECL).
    pub fn subscribe(&mut self, destination: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
        match self.link() {
            Some(link) => api::subscribe(link, "Stomp::subscribe", destination, headers, 1),
            None => Ok(api::php_false()),
        }
    }

    /// Whether a frame is ready to read (waits up to the read timeout).
    pub fn has_frame(&mut self) -> Zval {
        self.link().map_or_else(api::php_false, |l| api::php_bool(l.has_frame()))
    }

    /// The next frame as a StompFrame (or `$class_name`), false on timeout.
    pub fn read_frame(&mut self, class_name: Option<&Zval>) -> PhpResult<Zval> {
        match self.link() {
            Some(link) => api::read_frame(link, "Stomp::readFrame", class_name, true, 1),
            None => Ok(api::php_false()),
        }
    }

    /// Ends a subscription (by destination).
    pub fn unsubscribe(&mut self, destination: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
        match self.link() {
            Some(link) => api::unsubscribe(link, "Stomp::unsubscribe", destination, headers, 1),
            None => Ok(api::php_false()),
        }
    }

    /// Starts a transaction.
    pub fn begin(&mut self, transaction_id: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
        match self.link() {
            Some(link) => api::transaction(link, "Stomp::begin", b"BEGIN", transaction_id, headers, 1),
            None => Ok(api::php_false()),
        }
    }

    /// Commits a transaction.
    pub fn commit(&mut self, transaction_id: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
        match self.link() {
            Some(link) => api::transaction(link, "Stomp::commit", b"COMMIT", transaction_id, headers, 1),
            None => Ok(api::php_false()),
        }
    }

    /// Rolls back a transaction.
    pub fn abort(&mut self, transaction_id: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
        match self.link() {
            Some(link) => api::transaction(link, "Stomp::abort", b"ABORT", transaction_id, headers, 1),
            None => Ok(api::php_false()),
        }
    }

    /// Acknowledges a message (id string or StompFrame).
    pub fn ack(&mut self, msg: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
        match self.link() {
            Some(link) => api::acknowledge(link, "Stomp::ack", b"ACK", msg, headers, 1),
            None => Ok(api::php_false()),
        }
    }

    /// Rejects a message (id string or StompFrame).
    pub fn nack(&mut self, msg: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
        match self.link() {
            Some(link) => api::acknowledge(link, "Stomp::nack", b"NACK", msg, headers, 1),
            None => Ok(api::php_false()),
        }
    }

    /// The last error of this connection, or false.
    pub fn error(&mut self) -> Zval {
        self.link().map_or_else(api::php_false, |l| api::error(l))
    }

    /// Sets the read timeout; returns NULL.
    pub fn set_read_timeout(&mut self, seconds: &Zval, microseconds: Option<&Zval>) -> PhpResult<()> {
        let sec = api::long_arg(seconds, "Stomp::setReadTimeout", 1, "seconds")?;
        let usec = match microseconds {
            Some(z) => api::long_arg(z, "Stomp::setReadTimeout", 2, "microseconds")?,
            None => 0,
        };
        if let Some(link) = self.link() {
            link.set_read_timeout(sec, usec);
        }
        Ok(())
    }

    /// `['sec' => int, 'usec' => int]`.
    pub fn get_read_timeout(&mut self) -> PhpResult<Zval> {
        match self.link() {
            Some(link) => api::read_timeout(link),
            None => Ok(api::php_false()),
        }
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
    Ok(match api::connect(&args, "stomp_connect", false)? {
        Connected::Link(link) => ffi::new_resource(*link),
        Connected::Null => Zval::null(),
        Connected::False => api::php_false(),
    })
}

/// The last connect error of this request, or NULL.
#[php_function]
pub fn stomp_connect_error() -> Option<String> {
    api::connect_error()
}

/// Runs `body` on the connection behind `$link` (NULL when it is not one: a TypeError is
/// pending).
fn with_link(link: &Zval, body: impl FnOnce(&mut Link) -> PhpResult<Zval>) -> PhpResult<Zval> {
    match ffi::fetch_link(link) {
        Some(link) => body(link),
        None => Ok(Zval::null()),
    }
}

/// See `Stomp::getSessionId`.
#[php_function]
pub fn stomp_get_session_id(link: &Zval) -> PhpResult<Zval> {
    with_link(link, |l| Ok(api::session_id(l)))
}

/// Sends DISCONNECT and frees the resource; true.
#[php_function]
pub fn stomp_close(link: &Zval) -> PhpResult<Zval> {
    with_link(link, |_| Ok(api::php_bool(true))).inspect(|result| {
        if result.is_true() {
            ffi::close_resource(link);
        }
    })
}

/// See `Stomp::send`.
#[php_function]
pub fn stomp_send(link: &Zval, destination: &Zval, msg: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
    with_link(link, |l| api::send(l, "stomp_send", destination, msg, headers, 3))
}

/// See `Stomp::subscribe`.
#[php_function]
pub fn stomp_subscribe(link: &Zval, destination: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
    with_link(link, |l| api::subscribe(l, "stomp_subscribe", destination, headers, 2))
}

/// See `Stomp::hasFrame`.
#[php_function]
pub fn stomp_has_frame(link: &Zval) -> PhpResult<Zval> {
    with_link(link, |l| Ok(api::php_bool(l.has_frame())))
}

/// See `Stomp::readFrame`; without `$class_name`, returns an array.
#[php_function]
pub fn stomp_read_frame(link: &Zval, class_name: Option<&Zval>) -> PhpResult<Zval> {
    with_link(link, |l| api::read_frame(l, "stomp_read_frame", class_name, false, 2))
}

/// See `Stomp::unsubscribe`.
#[php_function]
pub fn stomp_unsubscribe(link: &Zval, destination: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
    with_link(link, |l| api::unsubscribe(l, "stomp_unsubscribe", destination, headers, 2))
}

/// See `Stomp::begin`.
#[php_function]
pub fn stomp_begin(link: &Zval, transaction_id: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
    with_link(link, |l| api::transaction(l, "stomp_begin", b"BEGIN", transaction_id, headers, 2))
}

/// See `Stomp::commit`.
#[php_function]
pub fn stomp_commit(link: &Zval, transaction_id: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
    with_link(link, |l| api::transaction(l, "stomp_commit", b"COMMIT", transaction_id, headers, 2))
}

/// See `Stomp::abort`.
#[php_function]
pub fn stomp_abort(link: &Zval, transaction_id: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
    with_link(link, |l| api::transaction(l, "stomp_abort", b"ABORT", transaction_id, headers, 2))
}

/// See `Stomp::ack`.
#[php_function]
pub fn stomp_ack(link: &Zval, msg: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
    with_link(link, |l| api::acknowledge(l, "stomp_ack", b"ACK", msg, headers, 2))
}

/// See `Stomp::nack`.
#[php_function]
pub fn stomp_nack(link: &Zval, msg: &Zval, headers: Option<&Zval>) -> PhpResult<Zval> {
    with_link(link, |l| api::acknowledge(l, "stomp_nack", b"NACK", msg, headers, 2))
}

/// See `Stomp::error`.
#[php_function]
pub fn stomp_error(link: &Zval) -> PhpResult<Zval> {
    with_link(link, |l| Ok(api::error(l)))
}

/// See `Stomp::setReadTimeout`.
#[php_function]
pub fn stomp_set_read_timeout(link: &Zval, seconds: &Zval, microseconds: Option<&Zval>) -> PhpResult<()> {
    let sec = api::long_arg(seconds, "stomp_set_read_timeout", 2, "seconds")?;
    let usec = match microseconds {
        Some(z) => api::long_arg(z, "stomp_set_read_timeout", 3, "microseconds")?,
        None => 0,
    };
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

/// Module startup: INI settings, the resource type, `StompFrame` and `StompException`.
pub fn startup(_ty: i32, module_number: i32) -> i32 {
    IniEntryDef::register(INI_ENTRIES.as_slice(), module_number);
    ffi::register_resource_type(module_number);
    match classes::register() {
        Ok(()) => 0,
        Err(_) => -1,
    }
}

/// Request startup: `stomp_connect_error()` starts empty in every request, as in PECL.
extern "C" fn request_startup(_ty: i32, _module_number: i32) -> i32 {
    api::reset_connect_error();
    0
}

/// The `phpinfo()` section, as PECL's.
extern "C" fn module_info(module: *mut ModuleEntry) {
    info_table_start!();
    info_table_row!("Stomp", "enabled");
    info_table_row!("API version", api::VERSION);
    info_table_row!("SSL Support", "disabled");
    info_table_end!();
    ffi::print_ini_entries(module);
}

/// The module entry point, in a private module: the `#[php_module]` macro exports an
/// undocumented `get_module` symbol, which PHP finds by name, not by path.
mod entry {
    use ext_php_rs::prelude::*;

    use super::*;

    /// The module: named `Stomp` with PECL's version, so `extension_loaded('stomp')` holds.
    #[php_module]
    #[php(startup = "startup")]
    pub fn get_module(module: ModuleBuilder) -> ModuleBuilder {
        module
            .name("Stomp")
            .version(api::VERSION)
            .request_startup_function(request_startup)
            .info_function(module_info)
            .class::<Stomp>()
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
}
