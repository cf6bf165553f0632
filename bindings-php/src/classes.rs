//! `StompFrame` and `StompException`: plain PHP classes (declared properties, standard object
//! handlers), registered with `ClassBuilder` as PECL registers them, so that user subclasses,
//! `var_dump` and `$frame->headers['x'] = ...` behave as with PECL.

use ext_php_rs::args::Arg;
use ext_php_rs::builders::{ClassBuilder, ClassProperty, FunctionBuilder};
use ext_php_rs::flags::{DataType, MethodFlags, PropertyFlags};
use ext_php_rs::types::Zval;
use ext_php_rs::zend::{ce, ExecuteData};

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

/// Registers both classes (module startup).
pub fn register() -> ext_php_rs::error::Result<()> {
    let frame_ctor = FunctionBuilder::new("__construct", frame_construct)
        .not_required()
        .arg(Arg::new("command", DataType::Mixed))
        .arg(Arg::new("headers", DataType::Array).allow_null())
        .arg(Arg::new("body", DataType::Mixed));
    ClassBuilder::new("StompFrame")
        .property(null_property("command", PropertyFlags::Public))
        .property(null_property("headers", PropertyFlags::Public))
        .property(null_property("body", PropertyFlags::Public))
        .method(frame_ctor, MethodFlags::Public)
        .registration(keep_arg_info)
        .register()?;
    ClassBuilder::new("StompException")
        .extends((ce::exception, "Exception"))
        .property(null_property("details", PropertyFlags::Private))
        .method(FunctionBuilder::new("getDetails", exception_details), MethodFlags::Public)
        .registration(keep_arg_info)
        .register()
}

/// The engine borrows a class's argument info for the life of the process, as long as the
/// class itself: park it there.
fn keep_arg_info(_ce: &'static mut ext_php_rs::zend::ClassEntry, arg_info: ext_php_rs::args::ArgInfoTables) {
    Box::leak(arg_info);
}

/// `StompFrame::__construct([$command [, ?array $headers [, $body]]])`: the command is kept
/// only if non-empty, the body only if non-empty, the headers as given (PECL's quirks).
extern "C" fn frame_construct(ex: &mut ExecuteData, _retval: &mut Zval) {
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
            let _ = this.set_property("command", crate::api::php_bytes(&bytes));
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
            let _ = this.set_property("body", crate::api::php_bytes(&bytes));
        }
    }
}

/// `StompException::getDetails()`: the details as a string ("" when none).
extern "C" fn exception_details(ex: &mut ExecuteData, retval: &mut Zval) {
    let details = ex.get_self().and_then(|this| this.get_property::<&Zval>("details").ok().map(Zval::shallow_clone));
    let text = match details {
        Some(z) => match z.zend_str() {
            Some(s) => s.as_bytes().to_vec(),
            None => z.coerce_to_string().map(String::into_bytes).unwrap_or_default(),
        },
        None => Vec::new(),
    };
    *retval = crate::api::php_bytes(&text);
}
