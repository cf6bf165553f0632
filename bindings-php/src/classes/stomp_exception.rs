//! `StompException extends Exception`: PECL's exception, with a private `details` property
//! (the body of the broker's ERROR frame) read by `getDetails()`.

use ext_php_rs::builders::{ClassBuilder, FunctionBuilder};
use ext_php_rs::flags::{MethodFlags, PropertyFlags};
use ext_php_rs::types::Zval;
use ext_php_rs::zend::{ce, ClassEntry, ExecuteData};

use super::null_property;
use crate::convert::php_bytes;
use crate::ffi;

/// The class name.
const NAME: &str = "StompException";

/// Registers the class (module startup).
pub fn register() -> ext_php_rs::error::Result<()> {
    ClassBuilder::new(NAME)
        .extends((ce::exception, "Exception"))
        .property(null_property("details", PropertyFlags::Private))
        .method(FunctionBuilder::new("getDetails", details), MethodFlags::Public)
        .registration(super::keep_arg_info)
        .register()
}

/// Throws a StompException with PECL's message and details (unless an exception is pending).
pub fn throw(message: &str, details: Option<&[u8]>) {
    let class = ClassEntry::try_find(NAME).unwrap_or_else(ce::exception);
    ffi::throw_with_details(class, message, details);
}

/// `StompException::getDetails()`: the details as a string ("" when none).
extern "C" fn details(ex: &mut ExecuteData, retval: &mut Zval) {
    let details = ex.get_self().and_then(|this| this.get_property::<&Zval>("details").ok().map(Zval::shallow_clone));
    let text = match details {
        Some(z) => match z.zend_str() {
            Some(s) => s.as_bytes().to_vec(),
            None => z.coerce_to_string().map(String::into_bytes).unwrap_or_default(),
        },
        None => Vec::new(),
    };
    *retval = php_bytes(&text);
}
