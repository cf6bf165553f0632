//! `stompbox create DIR`: lays out an instance ready for production, as `apollo create` does.
//!
//! ```text
//! DIR/etc/stompbox.toml       the four STOMP listeners (tcp 61613, tls 61614, ws 61623,
//!                             wss 61624) on one address, [auth], access rules for `admins`
//! DIR/etc/users.properties    admin=<argon2id hash of a random password>
//! DIR/etc/groups.properties   admins=admin
//! DIR/etc/tls/cert.pem        a self-signed certificate for the host names given
//! DIR/etc/tls/key.pem         its private key
//! DIR/etc/stompbox.service    a systemd unit
//! DIR/data/, DIR/log/
//! ```
//!
//! Unlike Apollo's `admin`/`password`, every instance gets its own random admin password, shown
//! once (in [`Created::instructions`]) and stored only as a hash. Files holding secrets are
//! readable by their owner only. An existing, non-empty `DIR` is refused, so nothing is ever
//! overwritten.

use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use rcgen::{CertificateParams, DnType, KeyPair};
use thiserror::Error;

use crate::users_file::{self, SetPasswordError};

/// The STOMP listeners of an instance: Apollo's kinds and ports.
const LISTENERS: [(&str, u16); 6] =
    [("tcp", 61613), ("tls", 61614), ("ws", 61623), ("wss", 61624), ("http", 61680), ("https", 61681)];

/// The address listeners bind unless `--bind` says otherwise.
pub const DEFAULT_BIND: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The admin user and its group.
const ADMIN: &str = "admin";
const ADMINS: &str = "admins";

/// Characters of the admin password: letters and digits, so it survives copy and paste.
const PASSWORD_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// Its length: 24 of 62 characters, 142 bits.
const PASSWORD_LENGTH: usize = 24;

/// What to create.
#[derive(Debug, Clone)]
pub struct Instance {
    /// The instance's folder; must not exist or be empty.
    pub dir: PathBuf,
    /// The names (and IP addresses) the TLS certificate is for; see [`default_hosts`].
    pub hosts: Vec<String>,
    /// The address every listener binds.
    pub bind: IpAddr,
    /// The `stompbox` binary the systemd unit runs.
    pub binary: PathBuf,
    /// The user the systemd unit runs as (the files' owner).
    pub user: String,
}

/// What was created.
#[derive(Debug)]
pub struct Created {
    /// The instance's folder, absolute.
    pub dir: PathBuf,
    /// The admin's password, which is stored only as a hash.
    pub admin_password: String,
    bind: IpAddr,
    hosts: Vec<String>,
    binary: PathBuf,
}

/// Why an instance could not be created.
#[derive(Debug, Error)]
pub enum CreateError {
    /// The folder exists and holds something.
    #[error("{0} exists and is not empty: stompbox create never overwrites an instance")]
    NotEmpty(PathBuf),
    /// A file or folder could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// No randomness for the password.
    #[error("cannot make a random password: {0}")]
    Random(String),
    /// The admin's password could not be stored.
    #[error(transparent)]
    Password(#[from] SetPasswordError),
    /// The certificate could not be made (e.g. a host name that cannot be in one).
    #[error("cannot make the TLS certificate: {0}")]
    Certificate(String),
}

/// The certificate's default names: this machine's host name, `localhost`, `127.0.0.1`, `::1`.
pub fn default_hosts() -> Vec<String> {
    let mut hosts: Vec<String> = nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .filter(|name| !name.is_empty())
        .into_iter()
        .collect();
    for name in ["localhost", "127.0.0.1", "::1"] {
        if !hosts.iter().any(|host| host == name) {
            hosts.push(name.to_owned());
        }
    }
    hosts
}

/// The name of the user running this process (for the systemd unit's `User=`).
pub fn current_user() -> String {
    let uid = nix::unistd::getuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => user.name,
        _ => uid.to_string(),
    }
}

/// Creates the instance. See the module docs.
pub fn create(instance: &Instance) -> Result<Created, CreateError> {
    let dir = make_empty_dir(&instance.dir)?;
    let etc = dir.join("etc");
    for folder in [etc.clone(), etc.join("tls"), dir.join("data"), dir.join("log")] {
        std::fs::create_dir_all(&folder).map_err(|source| CreateError::Io { path: folder.clone(), source })?;
    }
    let admin_password = random_password()?;
    write(&etc.join("users.properties"), USERS_HEADER.as_bytes(), false)?;
    users_file::set_password(&etc.join("users.properties"), ADMIN, &admin_password)?;
    write(&etc.join("groups.properties"), GROUPS.as_bytes(), false)?;
    write_certificate(&etc.join("tls"), &instance.hosts)?;
    write(&etc.join("stompbox.toml"), config_toml(instance.bind).as_bytes(), false)?;
    let unit = service_unit(&dir, &instance.binary, &instance.user);
    write(&etc.join("stompbox.service"), unit.as_bytes(), false)?;
    Ok(Created {
        dir,
        admin_password,
        bind: instance.bind,
        hosts: instance.hosts.clone(),
        binary: instance.binary.clone(),
    })
}

impl Created {
    /// The configuration file.
    pub fn config(&self) -> PathBuf {
        self.dir.join("etc/stompbox.toml")
    }

    /// What was made, the admin password (this once), how to run the instance and how to
    /// install it as a systemd service.
    pub fn instructions(&self) -> String {
        let dir = self.dir.display();
        let ports: Vec<String> = LISTENERS.iter().map(|(kind, port)| format!("{port} ({kind})")).collect();
        let mut text = String::new();
        let _ = write!(
            text,
            "Created a stompbox instance in {dir}:\n\
             \x20 etc/stompbox.toml        the configuration: STOMP on {bind}, ports {ports}\n\
             \x20 etc/users.properties     user {ADMIN}, password stored as an argon2id hash\n\
             \x20 etc/groups.properties    {ADMINS}={ADMIN}; the access rules give {ADMINS} everything\n\
             \x20 etc/tls/cert.pem, key.pem  a self-signed certificate for {hosts}\n\
             \x20 etc/stompbox.service     a systemd unit\n\
             \x20 data/, log/\n\n\
             The {ADMIN} user's password, shown this once (only its hash is stored; change it with\n\
             `stompbox passwd {ADMIN} --file {dir}/etc/users.properties`):\n\n\
             \x20   {ADMIN} / {password}\n\n\
             Clients trust the certificate by its file: Python `ca_file=\"{dir}/etc/tls/cert.pem\"`,\n\
             PHP `ssl://HOST:61614?ca={dir}/etc/tls/cert.pem`.\n\n\
             Run it:\n\n\
             \x20   {binary} run --config {config}\n\n\
             Or install it as a systemd service (logs go to {dir}/log/stompbox.log; `systemctl reload\n\
             stompbox` re-reads the users, groups and access rules):\n\n\
             \x20   sudo cp {dir}/etc/stompbox.service /etc/systemd/system/stompbox.service\n\
             \x20   sudo systemctl daemon-reload\n\
             \x20   sudo systemctl enable --now stompbox\n",
            bind = self.bind,
            ports = ports.join(", "),
            hosts = self.hosts.join(", "),
            password = self.admin_password,
            binary = self.binary.display(),
            config = self.config().display(),
        );
        text
    }
}

/// Creates `dir` (and its parents), or accepts it if it exists and is empty; returns it
/// absolute.
fn make_empty_dir(dir: &Path) -> Result<PathBuf, CreateError> {
    let io_error = |source| CreateError::Io { path: dir.to_owned(), source };
    match std::fs::read_dir(dir).map(|mut entries| entries.next().is_none()) {
        Ok(true) => {}
        Ok(false) => return Err(CreateError::NotEmpty(dir.to_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => std::fs::create_dir_all(dir).map_err(io_error)?,
        Err(e) => return Err(io_error(e)),
    }
    dir.canonicalize().map_err(io_error)
}

/// A password of [`PASSWORD_LENGTH`] characters drawn uniformly from [`PASSWORD_ALPHABET`].
fn random_password() -> Result<String, CreateError> {
    let mut password = String::with_capacity(PASSWORD_LENGTH);
    // Bytes at or above the largest multiple of the alphabet's size are skipped, so every
    // character is equally likely.
    let limit = 256 - 256 % PASSWORD_ALPHABET.len();
    while password.len() < PASSWORD_LENGTH {
        let mut bytes = [0u8; 64];
        getrandom::fill(&mut bytes).map_err(|e| CreateError::Random(e.to_string()))?;
        let usable = bytes.iter().map(|&b| usize::from(b)).filter(|&b| b < limit);
        password.extend(usable.map(|b| char::from(PASSWORD_ALPHABET[b % PASSWORD_ALPHABET.len()])));
        password.truncate(PASSWORD_LENGTH);
    }
    Ok(password)
}

/// Writes `cert.pem` and `key.pem` (owner only) into `dir`: a self-signed certificate for
/// `hosts`, named after the first.
fn write_certificate(dir: &Path, hosts: &[String]) -> Result<(), CreateError> {
    let failed = |e: rcgen::Error| CreateError::Certificate(e.to_string());
    let mut params = CertificateParams::new(hosts.to_vec()).map_err(failed)?;
    let name = hosts.first().map_or("stompbox", String::as_str);
    params.distinguished_name.push(DnType::CommonName, format!("stompbox {name}"));
    let key = KeyPair::generate().map_err(failed)?;
    let cert = params.self_signed(&key).map_err(failed)?;
    write(&dir.join("cert.pem"), cert.pem().as_bytes(), false)?;
    write(&dir.join("key.pem"), key.serialize_pem().as_bytes(), true)
}

/// Writes a new file (never replacing one); `private`: readable by its owner only.
fn write(path: &Path, contents: &[u8], private: bool) -> Result<(), CreateError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mode = if private { 0o600 } else { 0o644 };
    let io_error = |source| CreateError::Io { path: path.to_owned(), source };
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path).map_err(io_error)?;
    file.write_all(contents).map_err(io_error)
}

/// `users.properties` before the admin's entry.
const USERS_HEADER: &str = "\
# Users, Apollo's format: user=password. Passwords are argon2id hashes, written by
#   stompbox passwd USER --file users.properties
# (plain-text passwords work too, with a warning at start). SIGHUP re-reads this file.
";

/// `groups.properties`: the admin in `admins`, and the seed's example groups as comments.
const GROUPS: &str = "\
# Groups, Apollo's format: group=user1|user2. SIGHUP re-reads this file.
admins=admin
# The example of the README (each user needs a password in users.properties):
# monitors=ops
# appusers=app1
# users=demo
";

/// The configuration of an instance whose listeners bind `bind`.
fn config_toml(bind: IpAddr) -> String {
    let address = |port| SocketAddr::new(bind, port);
    let mut text = String::from(
        "\
# A stompbox instance made by `stompbox create`. Every key, with its default, is listed in
# examples/stompbox.toml of the stompbox sources and in its README. Paths are relative to this
# file. SIGHUP re-reads [auth] and the access rules; anything else needs a restart.

# Persistent messages and durable subscriptions are stored in ../data (see docs/PERSISTENCE.md).
data_dir = \"../data\"

[auth]
users_file = \"users.properties\"
groups_file = \"groups.properties\"
anonymous = false
# add_user_header = \"sender\"   # set every message's `sender` to the user who sent it

# Access rules, Apollo's: the first that matches decides; none matching: refused.
[[access_rule]]
allow = \"admins\"
action = \"*\"

# The README's example for a chat: publishers in appusers, readers in users.
# [[access_rule]]
# allow = \"monitors\"
# action = \"connect monitor\"
#
# [[access_rule]]
# allow = \"appusers\"
# action = \"connect create send receive consume\"
#
# [[access_rule]]
# allow = \"users\"
# action = \"connect create receive consume\"

# The listeners, as Apollo's: STOMP over tcp 61613, tls 61614, WebSocket 61623, WebSocket over
# TLS 61624; the web console (and the chat page at /chat/) over HTTP 61680 and HTTPS 61681.
",
    );
    for (kind, port) in LISTENERS {
        let _ = write!(text, "\n[[listener]]\nkind = \"{kind}\"\naddress = \"{}\"\n", address(port));
        if matches!(kind, "tls" | "wss" | "https") {
            text.push_str("cert = \"tls/cert.pem\"\nkey = \"tls/key.pem\"\n");
        }
        if kind == "ws" || kind == "wss" {
            text.push_str("# allowed_origins = [\"https://chat.example.com\"]   # the pages that may connect\n");
        }
    }
    text
}

/// The systemd unit running the instance in `dir` with `binary` as `user`.
fn service_unit(dir: &Path, binary: &Path, user: &str) -> String {
    let dir = dir.display();
    format!(
        "\
# The stompbox instance in {dir}, made by `stompbox create`. Install it with
#   sudo cp {dir}/etc/stompbox.service /etc/systemd/system/stompbox.service
#   sudo systemctl daemon-reload
#   sudo systemctl enable --now stompbox
# `systemctl reload stompbox` re-reads the users, groups and access rules.

[Unit]
Description=stompbox STOMP broker ({dir})
After=network-online.target
Wants=network-online.target

[Service]
Type=exec
User={user}
WorkingDirectory={dir}
ExecStart=\"{binary}\" run --config \"{dir}/etc/stompbox.toml\"
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
LimitNOFILE=1048576
StandardOutput=append:{dir}/log/stompbox.log
StandardError=append:{dir}/log/stompbox.log
NoNewPrivileges=true
PrivateTmp=true
ProtectSystem=strict
ProtectHome=read-only
ReadWritePaths=\"{dir}/data\" \"{dir}/log\"

[Install]
WantedBy=multi-user.target
",
        binary = binary.display(),
    )
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;
    use crate::listener::ListenerKind;
    use crate::{Auth, Config};
    use stompbox_core::auth::{Authenticator, Connector, Login, Users};

    fn instance(dir: &Path, bind: IpAddr) -> Instance {
        Instance {
            dir: dir.to_owned(),
            hosts: vec!["broker.example".into(), "127.0.0.1".into()],
            bind,
            binary: PathBuf::from("/usr/local/bin/stompbox"),
            user: "stompbox".into(),
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("stompbox-create-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn the_created_configuration_loads_with_six_listeners_and_the_admin_logs_in() {
        let dir = temp_dir("loads");
        let created = create(&instance(&dir, DEFAULT_BIND)).unwrap();
        let config = Config::load(&created.config()).expect("the created configuration is valid");
        let kinds: Vec<(ListenerKind, u16)> = config.listeners().iter().map(|l| (l.kind, l.address.port())).collect();
        assert_eq!(
            kinds,
            [
                (ListenerKind::Tcp, 61613),
                (ListenerKind::Tls, 61614),
                (ListenerKind::Ws, 61623),
                (ListenerKind::Wss, 61624),
                (ListenerKind::Http, 61680),
                (ListenerKind::Https, 61681)
            ]
        );
        assert!(config.listeners().iter().all(|l| l.address.ip() == DEFAULT_BIND));
        assert_eq!(config.data_dir, Some(dir.join("etc").join("../data")));
        Auth::load(&config).expect("users and groups load");
        let users = std::fs::read_to_string(dir.join("etc/users.properties")).unwrap();
        let groups = std::fs::read_to_string(dir.join("etc/groups.properties")).unwrap();
        assert!(users.contains("admin=$argon2id$") && !users.contains(&created.admin_password), "{users}");
        let users = Users::parse(&users, Some(&groups), false).unwrap();
        let login = |password: &str| Login {
            login: Some("admin".into()),
            passcode: Some(password.into()),
            connector: Connector::of_kind("tcp"),
        };
        let principal = users.authenticate(&login(&created.admin_password)).expect("the printed password");
        assert_eq!(principal.groups.iter().map(|g| &**g).collect::<Vec<_>>(), ["admins"]);
        assert!(users.authenticate(&login("password")).is_err());
        assert!(created.instructions().contains(&format!("admin / {}", created.admin_password)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn secrets_are_private_and_passwords_differ_per_instance() {
        use std::os::unix::fs::PermissionsExt;
        let (one, two) = (temp_dir("one"), temp_dir("two"));
        let first = create(&instance(&one, DEFAULT_BIND)).unwrap();
        let second = create(&instance(&two, DEFAULT_BIND)).unwrap();
        assert_ne!(first.admin_password, second.admin_password);
        assert_eq!(first.admin_password.len(), PASSWORD_LENGTH);
        assert!(first.admin_password.bytes().all(|b| PASSWORD_ALPHABET.contains(&b)));
        for secret in ["etc/users.properties", "etc/tls/key.pem"] {
            let mode = std::fs::metadata(one.join(secret)).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{secret} is readable by others: {mode:o}");
        }
        for folder in ["data", "log"] {
            assert!(one.join(folder).is_dir());
        }
        std::fs::remove_dir_all(&one).unwrap();
        std::fs::remove_dir_all(&two).unwrap();
    }

    #[test]
    fn an_existing_instance_is_never_overwritten() {
        let dir = temp_dir("exists");
        let created = create(&instance(&dir, DEFAULT_BIND)).unwrap();
        let before = std::fs::read(created.config()).unwrap();
        assert!(matches!(create(&instance(&dir, DEFAULT_BIND)), Err(CreateError::NotEmpty(_))));
        assert_eq!(std::fs::read(created.config()).unwrap(), before);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bind_applies_to_every_listener_and_ipv6_is_bracketed() {
        let any = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
        let config: Config = toml::from_str(&config_toml(any)).expect("valid TOML with known keys");
        let addresses: Vec<String> = config.listeners().iter().map(|l| l.address.to_string()).collect();
        assert_eq!(addresses, ["[::]:61613", "[::]:61614", "[::]:61623", "[::]:61624", "[::]:61680", "[::]:61681"]);
    }

    #[test]
    fn the_unit_runs_the_binary_on_the_configuration() {
        let unit = service_unit(Path::new("/srv/chat"), Path::new("/usr/local/bin/stompbox"), "stompbox");
        assert!(unit.contains("ExecStart=\"/usr/local/bin/stompbox\" run --config \"/srv/chat/etc/stompbox.toml\""));
        assert!(unit.contains("User=stompbox\n") && unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));
        assert!(unit.contains("ReadWritePaths=\"/srv/chat/data\" \"/srv/chat/log\""));
    }
}
