//! TLS for diagd's gRPC port and its OTLP/HTTP listener (rustls): the server's certificate and key, the
//! optional client-certificate authority that makes client certificates
//! required, and the matching client-side settings used by diagd's own
//! sub-commands. PEM files are read and checked once, at start-up, so a wrong
//! path or a file of the wrong kind fails with the flag named.

use std::{path::Path, time::Duration};

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

/// Longest time a client gets to finish its TLS handshake; a stalled
/// handshake never holds other connections back (tonic handshakes each
/// connection on its own task).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The server side: what `diagd serve --tls-cert/--tls-key/--tls-client-ca`
/// loaded.
#[derive(Clone)]
pub struct ServerTls {
    /// Certificate chain (PEM), leaf first.
    pub cert_pem: Vec<u8>,
    /// Private key of the leaf certificate (PEM).
    pub key_pem: Vec<u8>,
    /// Authority whose certificates clients must present (PEM); `None`: no
    /// client certificates asked for.
    pub client_ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("ServerTls")
            .field(
                "requires_client_certificates",
                &self.client_ca_pem.is_some(),
            )
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Reads and checks the PEM files named by the given flags.
    pub fn load(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<ServerTls, String> {
        Ok(ServerTls {
            cert_pem: read_pem(cert, "--tls-cert", PemKind::Certificate)?,
            key_pem: read_pem(key, "--tls-key", PemKind::PrivateKey)?,
            client_ca_pem: client_ca
                .map(|path| read_pem(path, "--tls-client-ca", PemKind::Certificate))
                .transpose()?,
        })
    }

    /// Whether clients must present a certificate signed by the client CA.
    pub fn requires_client_certificates(&self) -> bool {
        self.client_ca_pem.is_some()
    }

    /// tonic's server configuration.
    pub fn server_config(&self) -> ServerTlsConfig {
        let mut config = ServerTlsConfig::new()
            .identity(Identity::from_pem(&self.cert_pem, &self.key_pem))
            .timeout(HANDSHAKE_TIMEOUT);
        if let Some(ca) = &self.client_ca_pem {
            config = config
                .client_ca_root(Certificate::from_pem(ca))
                .client_auth_optional(false);
        }
        config
    }

    /// A rustls acceptor with the same certificate, key and client
    /// authority, for listeners tonic does not serve (OTLP/HTTP), offering
    /// the ALPN protocols `alpn`.
    pub fn rustls_acceptor(&self, alpn: &[&[u8]]) -> Result<tokio_rustls::TlsAcceptor, String> {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let certs = CertificateDer::pem_slice_iter(&self.cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("--tls-cert: {e}"))?;
        let key =
            PrivateKeyDer::from_pem_slice(&self.key_pem).map_err(|e| format!("--tls-key: {e}"))?;
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?;
        let builder = match &self.client_ca_pem {
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(ca) {
                    let cert = cert.map_err(|e| format!("--tls-client-ca: {e}"))?;
                    roots
                        .add(cert)
                        .map_err(|e| format!("--tls-client-ca: {e}"))?;
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    std::sync::Arc::new(roots),
                    provider,
                )
                .build()
                .map_err(|e| format!("--tls-client-ca: {e}"))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|e| format!("--tls-cert/--tls-key: {e}"))?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)))
    }
}

/// The client side: which authority to trust for diagd's certificate and,
/// where diagd asks for one, the client's own certificate and key.
#[derive(Clone, Default)]
pub struct ClientTls {
    /// Authority that signed diagd's certificate (PEM); `None`: the
    /// system's roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Client certificate and key (PEM), for diagd with `--tls-client-ca`.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
    /// Name to check diagd's certificate against, when it differs from the
    /// host in the address.
    pub domain: Option<String>,
}

impl ClientTls {
    /// Reads and checks the PEM files named by the client flags.
    pub fn load(
        ca: Option<&Path>,
        cert: Option<&Path>,
        key: Option<&Path>,
        domain: Option<String>,
    ) -> Result<ClientTls, String> {
        let identity = match (cert, key) {
            (Some(cert), Some(key)) => Some((
                read_pem(cert, "--client-cert", PemKind::Certificate)?,
                read_pem(key, "--client-key", PemKind::PrivateKey)?,
            )),
            (None, None) => None,
            _ => {
                return Err(
                    "--client-cert and --client-key go together: give both or neither".into(),
                );
            }
        };
        Ok(ClientTls {
            ca_pem: ca
                .map(|path| read_pem(path, "--tls-ca", PemKind::Certificate))
                .transpose()?,
            identity,
            domain,
        })
    }

    /// tonic's client configuration.
    pub fn client_config(&self) -> ClientTlsConfig {
        let mut config = ClientTlsConfig::new();
        config = match &self.ca_pem {
            Some(ca) => config.ca_certificate(Certificate::from_pem(ca)),
            None => config.with_enabled_roots(),
        };
        if let Some((cert, key)) = &self.identity {
            config = config.identity(Identity::from_pem(cert, key));
        }
        if let Some(domain) = &self.domain {
            config = config.domain_name(domain.clone());
        }
        config
    }
}

/// What a PEM file must hold.
#[derive(Clone, Copy)]
enum PemKind {
    Certificate,
    PrivateKey,
}

/// Reads `path` (named by `flag` in errors) and checks it holds a PEM block
/// of the expected kind.
fn read_pem(path: &Path, flag: &str, kind: PemKind) -> Result<Vec<u8>, String> {
    let pem =
        std::fs::read(path).map_err(|e| format!("{flag} {}: cannot read: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&pem);
    let ok = match kind {
        PemKind::Certificate => text.contains("-----BEGIN CERTIFICATE-----"),
        PemKind::PrivateKey => text.contains("-----BEGIN") && text.contains("PRIVATE KEY-----"),
    };
    if !ok {
        let expected = match kind {
            PemKind::Certificate => "a PEM certificate (-----BEGIN CERTIFICATE-----)",
            PemKind::PrivateKey => "a PEM private key (-----BEGIN … PRIVATE KEY-----)",
        };
        return Err(format!("{flag} {}: expected {expected}", path.display()));
    }
    Ok(pem)
}
