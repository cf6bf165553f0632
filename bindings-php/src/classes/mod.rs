//! The three PHP classes, registered in PECL's order (`Stomp`, `StompFrame`, `StompException`).
//!
//! - [`stomp`]: `Stomp`, a connection; its methods share their bodies with the procedural
//!   functions (`crate::api`).
//! - [`stomp_frame`]: `StompFrame`, a plain PHP class with declared properties.
//! - [`stomp_exception`]: `StompException extends Exception`, with `getDetails()`.

pub mod stomp;
pub mod stomp_exception;
pub mod stomp_frame;

use ext_php_rs::args::ArgInfoTables;
use ext_php_rs::builders::ClassProperty;
use ext_php_rs::flags::PropertyFlags;
use ext_php_rs::types::Zval;
use ext_php_rs::zend::ClassEntry;

/// Registers the classes (module startup).
pub fn register() -> ext_php_rs::error::Result<()> {
    stomp::register()?;
    stomp_frame::register()?;
    stomp_exception::register()
}

/// A property declared with a NULL default, as PECL declares them.
fn null_property(name: &str, flags: PropertyFlags) -> ClassProperty {
    ClassProperty {
        name: name.to_owned(),
        flags,
        default: Some(Box::new(|| Ok(Zval::null()))),
        docs: &[],
        ty: None,
        nullable: true,
        readonly: false,
        default_stub: Some("null".to_owned()),
    }
}

/// The engine borrows a class's argument info for the life of the process, as long as the
/// class itself: park it there (for the classes that keep no Rust metadata).
fn keep_arg_info(_ce: &'static mut ClassEntry, arg_info: ArgInfoTables) {
    Box::leak(arg_info);
}
