//! TLS settings for both sides of a relay connection (rustls with the ring
//! provider), and the relay's address as users write it.
//!
//! TLS protects the relay token on the network and lets clients know they
//! reach the right relay. It is not what keeps a session private: the
//! relay terminates TLS, and the Noise layer inside keeps the stream
//! unreadable to it.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// TLS set-up failures, each naming the file or setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("cannot read {what} {path}: {cause}")]
    Read {
        /// What the file holds.
        what: &'static str,
        /// The file.
        path: String,
        /// The cause.
        cause: String,
    },
    /// A PEM file holds no usable item.
    #[error("{path} holds no {what} in PEM form (-----BEGIN ...-----)")]
    Empty {
        /// What was expected.
        what: &'static str,
        /// The file.
        path: String,
    },
    /// rustls refused the settings.
    #[error("the TLS settings are not usable: {0}")]
    Config(String),
    /// The relay address is not `https://host:port`.
    #[error("the relay address {address:?} {problem}; write it as https://HOST:PORT")]
    Address {
        /// The address as given.
        address: String,
        /// What is wrong with it.
        problem: &'static str,
    },
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads every certificate of a PEM file.
pub fn read_certificates(
    path: &Path,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = std::fs::read(path).map_err(|error| TlsError::Read {
        what,
        path: path.display().to_string(),
        cause: error.to_string(),
    })?;
    certificates_from_pem(&bytes, what, &path.display().to_string())
}

/// Reads every certificate of PEM text; `origin` names it in errors.
pub fn certificates_from_pem(
    pem: &[u8],
    what: &'static str,
    origin: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certificates: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|error| TlsError::Read {
            what,
            path: origin.to_owned(),
            cause: error.to_string(),
        })?;
    if certificates.is_empty() {
        return Err(TlsError::Empty {
            what,
            path: origin.to_owned(),
        });
    }
    Ok(certificates)
}

/// The relay's server settings from its certificate chain and key files.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = read_certificates(cert, "certificate chain")?;
    let key_bytes = std::fs::read(key).map_err(|error| TlsError::Read {
        what: "private key",
        path: key.display().to_string(),
        cause: error.to_string(),
    })?;
    let key = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|_| TlsError::Empty {
        what: "private key",
        path: key.display().to_string(),
    })?;
    server_config_from(chain, key)
}

/// The relay's server settings from PEM text: the certificate chain and
/// the private key; `origin` names them in errors.
pub fn server_config_from_pem(
    chain_pem: &[u8],
    key_pem: &[u8],
    origin: &str,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = certificates_from_pem(chain_pem, "certificate chain", origin)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| TlsError::Empty {
        what: "private key",
        path: origin.to_owned(),
    })?;
    server_config_from(chain, key)
}

/// The relay's server settings from parsed parts.
pub fn server_config_from(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Config(error.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|error| TlsError::Config(error.to_string()))?;
    Ok(Arc::new(config))
}

/// Client settings: trust `extra_roots` (a private relay's CA or self-signed
/// certificate) if given, else the Mozilla roots compiled in.
pub fn client_config(
    extra_roots: &[CertificateDer<'static>],
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    if extra_roots.is_empty() {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    } else {
        for root in extra_roots {
            roots.add(root.clone()).map_err(|error| {
                TlsError::Config(format!("the relay CA certificate is not usable: {error}"))
            })?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Config(error.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Where a relay is: `https://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayAddress {
    /// The host name or IP address (what the certificate must name).
    pub host: String,
    /// The port (443 when not given).
    pub port: u16,
}

impl RelayAddress {
    /// Reads `https://host:port` (a trailing `/` is allowed; IPv6 hosts go
    /// in brackets).
    pub fn parse(text: &str) -> Result<RelayAddress, TlsError> {
        let error = |problem| TlsError::Address {
            address: text.to_owned(),
            problem,
        };
        let rest = text
            .trim()
            .strip_prefix("https://")
            .ok_or_else(|| error("does not start with https://"))?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') || rest.contains('?') || rest.contains('@') {
            return Err(error("has a path, query or user part"));
        }
        let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| error("has an unclosed ["))?;
            match after {
                "" => (host, None),
                _ => (
                    host,
                    Some(
                        after
                            .strip_prefix(':')
                            .ok_or_else(|| error("has text after ]"))?,
                    ),
                ),
            }
        } else {
            match rest.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (rest, None),
            }
        };
        if host.is_empty() {
            return Err(error("has no host"));
        }
        let port = match port {
            Some(port) => port
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| error("has a bad port"))?,
            None => 443,
        };
        Ok(RelayAddress {
            host: host.to_owned(),
            port,
        })
    }

    /// The name the certificate is checked against.
    pub fn server_name(&self) -> Result<ServerName<'static>, TlsError> {
        ServerName::try_from(self.host.clone()).map_err(|_| TlsError::Address {
            address: self.host.clone(),
            problem: "has a host that is neither a DNS name nor an IP address",
        })
    }
}

impl std::fmt::Display for RelayAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "https://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "https://{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use proptest::prelude::*;

    fn check(text: &str, expected: &str) {
        let rendered = match RelayAddress::parse(text) {
            Ok(address) => format!("{} {}", address.host, address.port),
            Err(error) => error.to_string(),
        };
        assert_eq!(rendered, expected, "{text}");
    }

    #[test]
    fn addresses() {
        check("https://relay.example.com:7443", "relay.example.com 7443");
        check("https://127.0.0.1:9/", "127.0.0.1 9");
        check("https://relay.example.com", "relay.example.com 443");
        check("https://[::1]:8443", "::1 8443");
        check(
            "http://x:1",
            "the relay address \"http://x:1\" does not start with https://; write it as https://HOST:PORT",
        );
        check(
            "https://x:0",
            "the relay address \"https://x:0\" has a bad port; write it as https://HOST:PORT",
        );
        check(
            "https://x:1/path",
            "the relay address \"https://x:1/path\" has a path, query or user part; write it as https://HOST:PORT",
        );
        check(
            "https://:1",
            "the relay address \"https://:1\" has no host; write it as https://HOST:PORT",
        );
        assert_eq!(
            RelayAddress::parse("https://[::1]:5").unwrap().to_string(),
            "https://[::1]:5"
        );
    }

    #[test]
    fn pem_errors_name_the_file() {
        let error = certificates_from_pem(b"nothing here", "relay CA certificate", "/tmp/ca.pem")
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "/tmp/ca.pem holds no relay CA certificate in PEM form (-----BEGIN ...-----)"
        );
        let error = read_certificates(Path::new("/nonexistent/ca.pem"), "relay CA certificate")
            .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("cannot read relay CA certificate /nonexistent/ca.pem:"),
            "{error}"
        );
    }

    #[test]
    fn default_roots_build() {
        client_config(&[]).unwrap();
    }

    proptest! {
        #[test]
        fn address_parsing_never_panics(text in ".{0,60}") {
            let _ = RelayAddress::parse(&text);
            let _ = RelayAddress::parse(&format!("https://{text}"));
        }
    }
}
