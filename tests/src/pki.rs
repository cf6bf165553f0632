//! A certificate authority made for one test run (rcgen), the certificates it signs, as PEM
//! files in a folder of their own, and the TLS client configurations that trust it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
use stompbox_server::config::ListenerConfig;
use stompbox_server::listener::ListenerKind;
use tokio_rustls::rustls::client::WantsClientCert;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{ClientConfig, ConfigBuilder, RootCertStore};

/// A CA, a server certificate it signed (for `localhost` and `127.0.0.1` unless made with
/// [`TestPki::for_names`]), and a client certificate it signed. The folder holding the PEM
/// files is removed on drop.
#[derive(Debug)]
pub struct TestPki {
    /// The folder of the PEM files.
    pub dir: PathBuf,
    /// The CA certificate, PEM.
    pub ca: PathBuf,
    /// The server's certificate, PEM.
    pub cert: PathBuf,
    /// The server's private key, PEM.
    pub key: PathBuf,
    ca_der: CertificateDer<'static>,
    client_cert: CertificateDer<'static>,
    client_key: Vec<u8>,
}

impl TestPki {
    /// Makes a fresh CA and its certificates, and writes them to a new folder.
    pub fn new() -> TestPki {
        TestPki::for_names(&["localhost", "127.0.0.1"])
    }

    /// As [`TestPki::new`], with a server certificate for these names only.
    pub fn for_names(server_names: &[&str]) -> TestPki {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "stompbox-pki-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create the certificate folder");

        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "stompbox test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key")).expect("CA");

        let server_key = KeyPair::generate().expect("server key");
        let server = CertificateParams::new(server_names.iter().map(|&name| name.to_owned()).collect::<Vec<_>>())
            .expect("server parameters")
            .signed_by(&server_key, &ca)
            .expect("server certificate");
        let client_key = KeyPair::generate().expect("client key");
        let mut client_params = CertificateParams::new(vec!["client".to_owned()]).expect("client parameters");
        client_params.distinguished_name.push(DnType::CommonName, "a test client");
        let client = client_params.signed_by(&client_key, &ca).expect("client certificate");

        let write = |name: &str, pem: String| {
            let path = dir.join(name);
            std::fs::write(&path, pem).expect("write a PEM file");
            path
        };
        TestPki {
            ca: write("ca.pem", ca.pem()),
            cert: write("cert.pem", server.pem()),
            key: write("key.pem", server_key.serialize_pem()),
            dir: dir.clone(),
            ca_der: ca.der().clone(),
            client_cert: client.der().clone(),
            client_key: client_key.serialize_der(),
        }
    }

    /// A listener of `kind` on `127.0.0.1:0`, with this server certificate when it needs one.
    pub fn listener(&self, kind: ListenerKind) -> ListenerConfig {
        let mut listener = ListenerConfig::new(kind, "127.0.0.1:0".parse().expect("address"));
        if kind.is_tls() {
            listener.cert = Some(self.cert.clone());
            listener.key = Some(self.key.clone());
        }
        listener
    }

    /// A TLS client that trusts this CA and has no certificate of its own.
    pub fn client(&self) -> Arc<ClientConfig> {
        Arc::new(self.client_builder().with_no_client_auth())
    }

    /// A TLS client that trusts this CA and shows the client certificate it signed.
    pub fn client_with_certificate(&self) -> Arc<ClientConfig> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.client_key.clone()));
        let config = self.client_builder().with_client_auth_cert(vec![self.client_cert.clone()], key);
        Arc::new(config.expect("client certificate and key"))
    }

    fn client_builder(&self) -> ConfigBuilder<ClientConfig, WantsClientCert> {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca_der.clone()).expect("the CA certificate");
        ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
    }

    /// A path in the folder, for files a test writes itself.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Default for TestPki {
    fn default() -> TestPki {
        TestPki::new()
    }
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(Path::new(&self.dir));
    }
}
