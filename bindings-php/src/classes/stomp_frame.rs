//! `StompFrame`: a plain PHP class (declared properties, standard object handlers), registered
//! with `ClassBuilder` as PECL registers it, so that user subclasses, `var_dump` and
//! `$frame->headers['x'] = ...` behave as with PECL.

use ext_php_rs::args::Arg;
use ext_php_rs::builders::{ClassBuilder, FunctionBuilder};
use ext_php_rs::flags::{DataType, MethodFlags, PropertyFlags};
use ext_php_rs::types::{ZendObject, Zval};
use ext_php_rs::zend::{ClassEntry, ExecuteData};

use super::null_property;
use crate::convert::php_bytes;

/// The class name.
const NAME: &str = "StompFrame";

/// Registers the class (module startup).
pub fn register() -> ext_php_rs::error::Result<()> {
    let constructor = FunctionBuilder::new("__construct", construct)
        .not_required()
        .arg(Arg::new("command", DataType::Mixed))
        .arg(Arg::new("headers", DataType::Array).allow_null())
        .arg(Arg::new("body", DataType::Mixed));
    ClassBuilder::new(NAME)
        .property(null_property("command", PropertyFlags::Public))
        .property(null_property("headers", PropertyFlags::Public))
        .property(null_property("body", PropertyFlags::Public))
        .method(constructor, MethodFlags::Public)
        .registration(super::keep_arg_info)
        .register()
}

/// The class entry (registered at module startup).
pub fn class() -> Option<&'static ClassEntry> {
    ClassEntry::try_find(NAME)
}

/// The `StompFrame` (or subclass) object in `z`, if it is one.
pub fn as_frame(z: &Zval) -> Option<&ZendObject> {
    let obj = z.object()?;
    obj.instance_of(class()?).then_some(obj)
}

/// A property of a frame object (`command`, `headers`, `body`).
pub fn property<'a>(frame: &'a ZendObject, name: &str) -> Option<&'a Zval> {
    frame.get_property::<&Zval>(name).ok()
}

/// `StompFrame::__construct([$command [, ?array $headers [, $body]]])`: the command is kept
/// only if non-empty, the body only if non-empty, the headers as given (PECL's quirks).
extern "C" fn construct(ex: &mut ExecuteData, _retval: &mut Zval) {
    let mut command = Arg::new("command", DataType::Mixed);
    let mut headers = Arg::new("headers", DataType::Array).allow_null();
    let mut body = Arg::new("body", DataType::Mixed);
    let (parser, this) = ex.parser_object();
    if parser.not_required().arg(&mut command).arg(&mut headers).arg(&mut body).parse().is_err() {
        return;
    }
    let Some(this) = this else {
        return;
    };
    let as_bytes = |z: &Zval| -> Vec<u8> {
        match z.zend_str() {
            Some(s) => s.as_bytes().to_vec(),
            None if z.is_null() => Vec::new(),
            None => z.coerce_to_string().map(String::into_bytes).unwrap_or_default(),
        }
    };
    if let Some(z) = command.zval() {
        let bytes = as_bytes(z);
        if !bytes.is_empty() {
            let _ = this.set_property("command", php_bytes(&bytes));
        }
    }
    if let Some(z) = headers.zval() {
        if z.is_array() {
            let _ = this.set_property("headers", z.shallow_clone());
        }
    }
    if let Some(z) = body.zval() {
        let bytes = as_bytes(z);
        if !bytes.is_empty() {
            let _ = this.set_property("body", php_bytes(&bytes));
        }
    }
}
