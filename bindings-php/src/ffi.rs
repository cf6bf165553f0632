//! The few Zend engine calls ext-php-rs does not wrap: the `stomp connection` resource type,
//! `php_error_docref` warnings, and exceptions whose private `details` property is set the way
//! PECL stomp sets it. Every `unsafe` block of the extension lives here.

// The workspace denies `unsafe_code`; these calls have no safe wrapper in ext-php-rs, so this
// module is allowed it, and each block says why it is sound.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::atomic::{AtomicI32, Ordering};

use ext_php_rs::ffi::{zend_class_entry, zend_module_entry, zend_object, zend_resource, zval};
use ext_php_rs::types::Zval;
use ext_php_rs::zend::ClassEntry;

use crate::link::Link;

/// The resource type name, as PECL registers it (`resource(5) of type (stomp connection)`).
const RESOURCE_NAME: &std::ffi::CStr = c"stomp connection";

/// `E_WARNING`.
const E_WARNING: c_int = 2;

unsafe extern "C" {
    fn zend_register_list_destructors_ex(
        ld: Option<unsafe extern "C" fn(*mut zend_resource)>,
        pld: Option<unsafe extern "C" fn(*mut zend_resource)>,
        type_name: *const c_char,
        module_number: c_int,
    ) -> c_int;
    fn zend_register_resource(ptr: *mut c_void, type_: c_int) -> *mut zend_resource;
    fn zend_fetch_resource_ex(res: *mut zval, resource_type_name: *const c_char, resource_type: c_int) -> *mut c_void;
    fn zend_list_close(res: *mut zend_resource);
    fn zend_throw_exception(exception_ce: *mut zend_class_entry, message: *const c_char, code: i64)
        -> *mut zend_object;
    fn zend_update_property_string(
        scope: *mut zend_class_entry,
        object: *mut zend_object,
        name: *const c_char,
        name_length: usize,
        value: *const c_char,
    );
    fn display_ini_entries(module: *mut zend_module_entry);
}

/// The resource type id `zend_register_list_destructors_ex` gave us (module startup).
static RESOURCE_TYPE: AtomicI32 = AtomicI32::new(-1);

/// Registers the `stomp connection` resource type; called once from module startup.
pub fn register_resource_type(module_number: i32) {
    // SAFETY: called from MINIT with our module number; the name is a static C string.
    let id =
        unsafe { zend_register_list_destructors_ex(Some(destroy_link), None, RESOURCE_NAME.as_ptr(), module_number) };
    RESOURCE_TYPE.store(id, Ordering::Relaxed);
}

/// The resource destructor: what `stomp_close()` and the end of the request run. Sends
/// DISCONNECT and closes the socket, as PECL's `php_destroy_stomp_res`.
unsafe extern "C" fn destroy_link(res: *mut zend_resource) {
    // SAFETY: the engine passes a live resource of our type; `ptr` is the Box we leaked in
    // `new_resource` (or null once taken).
    unsafe {
        let ptr = (*res).ptr.cast::<Link>();
        if !ptr.is_null() {
            (*res).ptr = std::ptr::null_mut();
            let mut link = Box::from_raw(ptr);
            link.close();
        }
    }
}

/// Wraps a connection in a new `stomp connection` resource.
pub fn new_resource(link: Link) -> Zval {
    let ptr = Box::into_raw(Box::new(link));
    let mut value = Zval::new();
    // SAFETY: the type id was registered at startup; the engine owns the returned resource
    // (refcount 1), whose ownership moves into `value`.
    unsafe {
        let res = zend_register_resource(ptr.cast(), RESOURCE_TYPE.load(Ordering::Relaxed));
        value.set_resource(res);
    }
    value
}

/// The connection behind a `$link` argument. When it is not a live `stomp connection`
/// resource, the engine has thrown its TypeError (as PECL's `zend_fetch_resource_ex` does)
/// and `None` is returned.
pub fn fetch_link(link: &Zval) -> Option<&'static mut Link> {
    let raw = std::ptr::from_ref(link).cast_mut();
    // SAFETY: `raw` points at a live zval for the duration of the call that received it; the
    // returned pointer is our Box, valid until the resource is closed, which cannot happen
    // while this call runs (PHP is single-threaded per request).
    unsafe {
        let ptr = zend_fetch_resource_ex(raw, RESOURCE_NAME.as_ptr(), RESOURCE_TYPE.load(Ordering::Relaxed));
        ptr.cast::<Link>().as_mut()
    }
}

/// Closes a `stomp connection` resource (runs the destructor once).
pub fn close_resource(link: &Zval) {
    if let Some(res) = link.resource() {
        // SAFETY: `res` is the live resource held by the argument zval.
        unsafe { zend_list_close(res) }
    }
}

/// Emits an `E_WARNING` through `php_error_docref`, so PHP prefixes it with the calling
/// function (`Stomp::send(): ...`), as PECL's warnings are.
pub fn warning(message: &str) {
    let text = c_string(message);
    // SAFETY: format and argument are valid C strings; "%s" takes exactly one.
    unsafe { ext_php_rs::ffi::php_error_docref(std::ptr::null(), E_WARNING, c"%s".as_ptr(), text.as_ptr()) }
}

/// Throws `class` with `message` and code 0 and, when `details` is given, sets its private
/// `details` property, as PECL's `THROW_STOMP_EXCEPTION` + `zend_update_property_string`.
pub fn throw_with_details(class: &ClassEntry, message: &str, details: Option<&[u8]>) {
    if ext_php_rs::zend::ExecutorGlobals::has_exception() {
        return;
    }
    let ce = std::ptr::from_ref(class).cast_mut();
    let message = c_string(message);
    // SAFETY: `ce` is a registered exception class; the strings are valid C strings; the
    // thrown object is alive (held by EG(exception)) while its property is set.
    unsafe {
        let object = zend_throw_exception(ce, message.as_ptr(), 0);
        if let (Some(details), false) = (details, object.is_null()) {
            let value = c_string_bytes(details);
            zend_update_property_string(ce, object, c"details".as_ptr(), "details".len(), value.as_ptr());
        }
    }
}

/// Prints the extension's INI entries in `phpinfo()`.
pub fn print_ini_entries(module: *mut zend_module_entry) {
    // SAFETY: `module` is the module entry the engine passed to our info function.
    unsafe { display_ini_entries(module) }
}

/// A C string of `text` up to its first NUL (as C code would see it).
fn c_string(text: &str) -> CString {
    c_string_bytes(text.as_bytes())
}

fn c_string_bytes(bytes: &[u8]) -> CString {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    CString::new(&bytes[..end]).unwrap_or_default()
}

/// The `on_modify` handler of our INI entries: accepts every value (the value is read when a
/// connection is made). Without one the engine refuses `ini_restore()` at runtime; PECL's
/// entries have `OnUpdateString`/`OnUpdateLong`.
pub unsafe extern "C" fn accept_ini_change(
    _entry: *mut ext_php_rs::ffi::zend_ini_entry,
    _new_value: *mut ext_php_rs::ffi::zend_string,
    _mh_arg1: *mut c_void,
    _mh_arg2: *mut c_void,
    _mh_arg3: *mut c_void,
    _stage: c_int,
) -> c_int {
    0
}
