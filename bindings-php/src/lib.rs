//! `stomp`: a drop-in replacement for PHP's PECL stomp extension (2.0.x), on the stompbox core
//! client.
//!
//! Same classes (`Stomp`, `StompFrame`, `StompException`), methods, procedural `stomp_*`
//! functions, `stomp connection` resources, INI settings, reflection and wire frames as PECL;
//! see `bindings-php/README.md` for the few differences.
//!
//! - [`link`]: one connection, and the frames PECL writes (no PHP types).
//! - `api`: the body of each PECL call, shared by the methods and the functions.
//! - `convert`: PHP values to Rust and back, as PECL's C code converts them.
//! - `classes`: `Stomp`, `StompFrame` and `StompException`.
//! - `functions`: the procedural `stomp_*` functions.
//! - `ini`: the `stomp.*` INI settings.
//! - `arginfo`: PECL's argument info (untyped parameters, no return types), which ext-php-rs
//!   cannot declare.
//! - `ffi`: the engine calls ext-php-rs does not wrap (resources, warnings, exception details).

mod api;
mod arginfo;
mod classes;
mod convert;
mod ffi;
mod functions;
mod ini;
pub mod link;

use ext_php_rs::zend::ModuleEntry;
use ext_php_rs::{info_table_end, info_table_row, info_table_start};

/// Module startup: INI settings, the resource type, the classes, then PECL's argument info
/// over everything registered.
fn startup(_ty: i32, module_number: i32) -> i32 {
    ini::register(module_number);
    ffi::register_resource_type(module_number);
    if classes::register().is_err() {
        return -1;
    }
    arginfo::match_pecl();
    0
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

    use super::{api, functions, module_info, request_startup, startup};

    /// The module: named `Stomp` with PECL's version, so `extension_loaded('stomp')` holds.
    /// The classes are registered by `startup`, in PECL's order.
    #[php_module]
    #[php(startup = "startup")]
    pub fn get_module(module: ModuleBuilder) -> ModuleBuilder {
        let module = module
            .name("Stomp")
            .version(api::VERSION)
            .request_startup_function(request_startup)
            .info_function(module_info);
        functions::build_module(module)
    }
}
