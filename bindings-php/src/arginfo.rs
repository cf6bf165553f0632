//! PECL stomp's argument info, which ext-php-rs cannot declare.
//!
//! PECL's `stomp.c` declares `?array $headers` and leaves every other parameter untyped, gives
//! no parameter a default value (reflection shows `= <default>`; a call with named arguments
//! cannot skip one), and declares no return type. ext-php-rs types each parameter from its
//! Rust type (`mixed $broker = null`) and each function from its Rust return type (`: mixed`),
//! which also makes a user's `class MyStomp extends Stomp` that overrides a method without
//! those types a fatal error ("must be compatible"). So once everything is registered,
//! [`match_pecl`] rewrites the engine's argument info of each of our functions and methods
//! into PECL's shape. Names, count and optionality of the parameters are ext-php-rs's already.

// The workspace denies `unsafe_code`. Registered functions are engine structures reached
// through raw pointers; ext-php-rs has no API to change them.
#![allow(unsafe_code)]

use std::ffi::{c_char, CStr};
use std::ptr;

use ext_php_rs::ffi::{
    ext_php_rs_compiler_globals, zend_class_entry, zend_function, zend_internal_arg_info, zend_module_entry, HashTable,
    _ZEND_SEND_MODE_SHIFT, _ZEND_TYPE_NULLABLE_BIT, IS_ARRAY, ZEND_ACC_HAS_RETURN_TYPE, ZEND_ACC_HAS_TYPE_HINTS,
    ZEND_INTERNAL_FUNCTION,
};
use ext_php_rs::zend::ExecutorGlobals;

/// `ZEND_INTERNAL_CLASS` (`zend_compile.h`): a class registered by an extension.
const ZEND_INTERNAL_CLASS: c_char = 1;

/// The bits of a `zend_type` mask that name its types; the bits above hold the parameter's
/// send mode and variadic flag, which are kept.
const TYPE_BITS: u32 = (1 << _ZEND_SEND_MODE_SHIFT) - 1;

/// `?array`: `$headers`, the one parameter PECL types (`ZEND_ARG_ARRAY_INFO(0, headers, 1)`).
const NULLABLE_ARRAY: u32 = (1 << IS_ARRAY) | _ZEND_TYPE_NULLABLE_BIT;

/// Rewrites every function and class method registered by the module being started. Call at
/// the end of module startup.
pub fn match_pecl() {
    let module = ExecutorGlobals::get().current_module;
    // SAFETY: in module startup the compiler globals and their function and class tables
    // (`CG(function_table)`, `CG(class_table)`, where extensions register) are live and nothing
    // else runs; their entries are `zend_function`s and `zend_class_entry`s (IS_PTR zvals).
    unsafe {
        let globals = &*ext_php_rs_compiler_globals();
        rewrite_functions(globals.function_table, module);
        for class in entries::<zend_class_entry>(globals.class_table) {
            if (*class).type_ == ZEND_INTERNAL_CLASS && (*class).info.internal.module == module {
                rewrite_functions(&raw mut (*class).function_table, module);
            }
        }
    }
}

/// The pointers held by a hash table of IS_PTR zvals.
///
/// # Safety
/// `table` is null or a live hash table whose values are pointers to `T`.
unsafe fn entries<T>(table: *mut HashTable) -> impl Iterator<Item = *mut T> {
    // SAFETY: as the caller promises.
    let values = unsafe { table.as_ref() }.into_iter().flat_map(|table| table.values());
    // SAFETY: as the caller promises.
    values.filter_map(|zval| unsafe { zval.ptr::<T>() })
}

/// Rewrites the functions of `table` that `module` registered (a class's table also holds
/// inherited methods, which belong to their own module).
///
/// # Safety
/// `table` is null or a live function table.
unsafe fn rewrite_functions(table: *mut HashTable, module: *mut zend_module_entry) {
    // SAFETY: as the caller promises.
    for function in unsafe { entries::<zend_function>(table) } {
        // SAFETY: a live function; an internal one has the `internal_function` layout.
        unsafe {
            if (*function).type_ == ZEND_INTERNAL_FUNCTION as u8 && (*function).internal_function.module == module {
                rewrite(&mut *function);
            }
        }
    }
}

/// Gives one internal function PECL's argument info.
///
/// # Safety
/// `function` is a live internal function.
unsafe fn rewrite(function: &mut zend_function) {
    // SAFETY: an internal function, as the caller promises.
    let function = unsafe { &mut function.internal_function };
    // When a function has a typed parameter or a return type, the engine makes its own copy of
    // the argument info at registration (to intern class names) and frees it at shutdown; that
    // copy is what is rewritten. Without either, there is nothing to rewrite.
    if function.fn_flags & (ZEND_ACC_HAS_RETURN_TYPE | ZEND_ACC_HAS_TYPE_HINTS) == 0 || function.arg_info.is_null() {
        return;
    }
    // SAFETY: the engine's copy holds the return type at [-1], then one entry per parameter.
    let infos: &mut [zend_internal_arg_info] =
        unsafe { std::slice::from_raw_parts_mut(function.arg_info.sub(1), function.num_args as usize + 1) };
    let (returns, parameters) = infos.split_at_mut(1);
    set_type(&mut returns[0], 0);
    for parameter in parameters {
        // SAFETY: parameter names are C strings.
        let headers = unsafe { CStr::from_ptr(parameter.name) } == c"headers";
        set_type(parameter, if headers { NULLABLE_ARRAY } else { 0 });
        parameter.default_value = ptr::null();
    }
    function.fn_flags &= !ZEND_ACC_HAS_RETURN_TYPE;
    // Kept even when no parameter is typed any more: the engine frees its copy at shutdown
    // only when this flag (or a return type) is set. Otherwise it only enables the argument
    // type checks of debug builds of PHP, which untyped parameters pass.
    function.fn_flags |= ZEND_ACC_HAS_TYPE_HINTS;
}

/// Sets the types of a parameter (or return value); 0 for none.
fn set_type(info: &mut zend_internal_arg_info, types: u32) {
    info.type_.type_mask = (info.type_.type_mask & !TYPE_BITS) | types;
    info.type_.ptr = ptr::null_mut();
}
