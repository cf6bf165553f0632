//! TLS for `tls` and `wss` listeners: the certificate chain and key (PEM files, read with
//! rustls-pki-types' `PemObject`), and with `client_ca` the CA that client certificates must be
//! signed by. The rustls `ServerConfig` is built once per listener, at bind; each connection
//! task makes an acceptor of it (an `Arc` clone) and runs the handshake itself.

use std::path::Path;
use std::sync::Arc;

use thiserror::Error;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};

use crate::config::ListenerConfig;

/// Why a listener's TLS configuration could not be built. Each names the listener and the key.
#[derive(Debug, Error)]
pub enum TlsSetupError {
    /// A `tls` or `wss` listener without `cert` or `key`.
    #[error("{listener}: `{key}` is required (a PEM file)")]
    Missing {
        /// The listener, as [`ListenerConfig::describe`] says.
        listener: String,
        /// The missing key.
        key: &'static str,
    },
    /// A file that cannot be read.
    #[error("{listener}: `{key}` = {path}: cannot read: {source}")]
    Read {
        /// The listener.
        listener: String,
        /// The key naming the file.
        key: &'static str,
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file that is not what the key needs.
    #[error("{listener}: `{key}` = {path}: {problem}")]
    Content {
        /// The listener.
        listener: String,
        /// The key naming the file.
        key: &'static str,
        /// The file.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    /// rustls refused the combination (for example a key that does not match the certificate).
    #[error("{listener}: {problem}")]
    Rustls {
        /// The listener.
        listener: String,
        /// What rustls said.
        problem: String,
    },
}

/// Loads the listener's certificate, key and client CA into a rustls server configuration.
pub(crate) fn server_config(listener: &ListenerConfig) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let files = Files { listener };
    let certs = files.certificates("cert", files.required("cert", listener.cert.as_deref())?)?;
    let key = files.private_key(files.required("key", listener.key.as_deref())?)?;
    let provider = Arc::new(ring::default_provider());
    let rustls = |error: &dyn std::fmt::Display| TlsSetupError::Rustls {
        listener: listener.describe(),
        problem: error.to_string(),
    };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| rustls(&e))?;
    let builder = match listener.client_ca.as_deref() {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(files.roots(path)?), provider)
                .build()
                .map_err(|e| rustls(&e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(certs, key).map_err(|e| rustls(&e))?;
    Ok(Arc::new(config))
}

/// Reads a listener's PEM files, naming the listener and key in every error.
struct Files<'a> {
    listener: &'a ListenerConfig,
}

impl Files<'_> {
    fn required<'p>(&self, key: &'static str, path: Option<&'p Path>) -> Result<&'p Path, TlsSetupError> {
        path.ok_or_else(|| TlsSetupError::Missing { listener: self.listener.describe(), key })
    }

    fn read(&self, key: &'static str, path: &Path) -> Result<Vec<u8>, TlsSetupError> {
        std::fs::read(path).map_err(|source| TlsSetupError::Read {
            listener: self.listener.describe(),
            key,
            path: path.display().to_string(),
            source,
        })
    }

    fn content(&self, key: &'static str, path: &Path, problem: String) -> TlsSetupError {
        TlsSetupError::Content { listener: self.listener.describe(), key, path: path.display().to_string(), problem }
    }

    /// Every certificate in the file, at least one.
    fn certificates(&self, key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
        let pem = self.read(key, path)?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.content(key, path, format!("not valid PEM: {e}")))?;
        if certs.is_empty() {
            return Err(self.content(key, path, "holds no certificate (no BEGIN CERTIFICATE block)".into()));
        }
        Ok(certs)
    }

    /// The file's private key (PKCS#8, PKCS#1 or SEC1).
    fn private_key(&self, path: &Path) -> Result<PrivateKeyDer<'static>, TlsSetupError> {
        let pem = self.read("key", path)?;
        PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
            tokio_rustls::rustls::pki_types::pem::Error::NoItemsFound => {
                self.content("key", path, "holds no private key (no BEGIN PRIVATE KEY block)".into())
            }
            e => self.content("key", path, format!("not valid PEM: {e}")),
        })
    }

    /// The CA certificates client certificates must chain to.
    fn roots(&self, path: &Path) -> Result<RootCertStore, TlsSetupError> {
        let mut roots = RootCertStore::empty();
        for cert in self.certificates("client_ca", path)? {
            roots
                .add(cert)
                .map_err(|e| self.content("client_ca", path, format!("not a usable CA certificate: {e}")))?;
        }
        Ok(roots)
    }
}
