//! The `stomp.*` INI settings: declared with PECL's names, defaults and permissions, and read
//! when a connect leaves out an argument.

use std::collections::HashMap;
use std::ffi::CStr;

use ext_php_rs::flags::IniEntryPermission;
use ext_php_rs::zend::{ExecutorGlobals, IniEntryDef, IniEntryDefs};

use crate::ffi;

/// One setting: its name and PECL's default.
struct Setting {
    name: &'static CStr,
    default: &'static CStr,
}

const DEFAULT_BROKER: Setting = Setting { name: c"stomp.default_broker", default: c"tcp://localhost:61613" };
const DEFAULT_USERNAME: Setting = Setting { name: c"stomp.default_username", default: c"" };
const DEFAULT_PASSWORD: Setting = Setting { name: c"stomp.default_password", default: c"" };
const READ_TIMEOUT_SEC: Setting = Setting { name: c"stomp.default_read_timeout_sec", default: c"2" };
const READ_TIMEOUT_USEC: Setting = Setting { name: c"stomp.default_read_timeout_usec", default: c"0" };
const CONNECTION_TIMEOUT_SEC: Setting = Setting { name: c"stomp.default_connection_timeout_sec", default: c"2" };
const CONNECTION_TIMEOUT_USEC: Setting = Setting { name: c"stomp.default_connection_timeout_usec", default: c"0" };

/// The entries, in PECL's order, all `PHP_INI_ALL` as in PECL.
static INI_ENTRIES: IniEntryDefs<8> = IniEntryDefs::new([
    DEFAULT_BROKER.entry(),
    DEFAULT_USERNAME.entry(),
    DEFAULT_PASSWORD.entry(),
    READ_TIMEOUT_SEC.entry(),
    READ_TIMEOUT_USEC.entry(),
    CONNECTION_TIMEOUT_SEC.entry(),
    CONNECTION_TIMEOUT_USEC.entry(),
    IniEntryDef::end(),
]);

impl Setting {
    /// An entry modifiable everywhere (`PHP_INI_ALL`) that `ini_restore()` can reset.
    const fn entry(&self) -> IniEntryDef {
        let mut entry = IniEntryDef::new(self.name, self.default, IniEntryPermission::All);
        entry.on_modify = Some(ffi::accept_ini_change);
        entry
    }

    /// The current value as text (the default if unset).
    fn text(&self, values: &HashMap<String, Option<String>>) -> String {
        let name = self.name.to_str().unwrap_or_default();
        values.get(name).cloned().flatten().unwrap_or_else(|| self.default.to_string_lossy().into_owned())
    }

    /// The current value as a number (the default if unset or not a number).
    fn number(&self, values: &HashMap<String, Option<String>>) -> i64 {
        let default = self.default.to_str().ok().and_then(|d| d.parse().ok()).unwrap_or_default();
        self.text(values).trim().parse().unwrap_or(default)
    }
}

/// Registers the entries (module startup).
pub fn register(module_number: i32) {
    IniEntryDef::register(INI_ENTRIES.as_slice(), module_number);
}

/// What a connect takes from the settings when its arguments leave it out.
pub struct ConnectDefaults {
    /// `stomp.default_broker`.
    pub broker: String,
    /// `stomp.default_username`.
    pub username: Vec<u8>,
    /// `stomp.default_password`.
    pub password: Vec<u8>,
    /// `stomp.default_read_timeout_sec` and `_usec`.
    pub read_timeout: (i64, i64),
    /// `stomp.default_connection_timeout_sec` and `_usec`.
    pub connection_timeout: (i64, i64),
}

/// The current settings (as changed by `ini_set()` in this request).
pub fn connect_defaults() -> ConnectDefaults {
    let values = ExecutorGlobals::get().ini_values();
    ConnectDefaults {
        broker: DEFAULT_BROKER.text(&values),
        username: DEFAULT_USERNAME.text(&values).into_bytes(),
        password: DEFAULT_PASSWORD.text(&values).into_bytes(),
        read_timeout: (READ_TIMEOUT_SEC.number(&values), READ_TIMEOUT_USEC.number(&values)),
        connection_timeout: (CONNECTION_TIMEOUT_SEC.number(&values), CONNECTION_TIMEOUT_USEC.number(&values)),
    }
}
