//! TLS towards clients (server side) and targets (client side), the
//! connection stream type, and `tls-server-end-point` channel binding data.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256, Sha384, Sha512};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::authority::TlsInfo;

/// ALPN protocol name that PostgreSQL 17 defines for its protocol.
pub(crate) const ALPN_POSTGRESQL: &[u8] = b"postgresql";

/// A client or upstream connection, plaintext or TLS.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A finished server-side TLS handshake.
pub(crate) struct AcceptedTls {
    pub(crate) stream: Stream,
    pub(crate) info: TlsInfo,
    /// `None` when the certificate's signature algorithm defines no binding
    /// hash (such as Ed25519), in which case SCRAM-SHA-256-PLUS is not offered.
    pub(crate) channel_binding: Option<Vec<u8>>,
    pub(crate) alpn_postgresql: bool,
}

/// Runs the server handshake on `tcp`. The certificate that the caller's
/// resolver picks is captured for channel binding, because rustls does not
/// expose the server's own certificate on the connection.
pub(crate) async fn accept(
    config: &Arc<rustls::ServerConfig>,
    tcp: TcpStream,
) -> io::Result<AcceptedTls> {
    let capture = Arc::new(CapturingResolver {
        inner: Arc::clone(&config.cert_resolver),
        chosen: Mutex::new(None),
    });
    let mut per_connection = (**config).clone();
    per_connection.cert_resolver = capture.clone();
    per_connection.alpn_protocols = vec![ALPN_POSTGRESQL.to_vec()];

    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(per_connection));
    let stream = acceptor.accept(tcp).await?;

    let (_, connection) = stream.get_ref();
    let info = TlsInfo {
        version: connection
            .protocol_version()
            .map(|version| format!("{version:?}"))
            .unwrap_or_default(),
        cipher: connection
            .negotiated_cipher_suite()
            .map(|suite| format!("{:?}", suite.suite()))
            .unwrap_or_default(),
    };
    let alpn_postgresql = connection.alpn_protocol() == Some(ALPN_POSTGRESQL);
    let chosen = capture.chosen.lock().ok().and_then(|chosen| chosen.clone());
    let channel_binding = chosen
        .as_ref()
        .and_then(|key| key.end_entity_cert().ok())
        .and_then(|cert| tls_server_end_point(cert.as_ref()));

    Ok(AcceptedTls {
        stream: Stream::Tls(Box::new(tokio_rustls::TlsStream::Server(stream))),
        info,
        channel_binding,
        alpn_postgresql,
    })
}

#[derive(Debug)]
struct CapturingResolver {
    inner: Arc<dyn ResolvesServerCert>,
    chosen: Mutex<Option<Arc<CertifiedKey>>>,
}

impl ResolvesServerCert for CapturingResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let key = self.inner.resolve(client_hello)?;
        if let Ok(mut chosen) = self.chosen.lock() {
            *chosen = Some(Arc::clone(&key));
        }
        Some(key)
    }

    fn only_raw_public_keys(&self) -> bool {
        self.inner.only_raw_public_keys()
    }
}

/// Computes `tls-server-end-point` data (RFC 5929 section 4.1): the
/// certificate hashed with its signature's hash function, where MD5 and
/// SHA-1 are replaced by SHA-256. Returns `None` for other algorithms.
pub(crate) fn tls_server_end_point(cert_der: &[u8]) -> Option<Vec<u8>> {
    const RSA_PREFIX: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
    const ECDSA_SHA2_PREFIX: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03];
    const ECDSA_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01];

    let oid = signature_algorithm_oid(cert_der)?;
    let last = *oid.last()?;
    let prefix = oid.get(..oid.len().saturating_sub(1))?;
    let hash = match (prefix, last) {
        // md5WithRSAEncryption, sha1WithRSAEncryption, sha256WithRSAEncryption
        (RSA_PREFIX, 0x04 | 0x05 | 0x0b) => HashKind::Sha256,
        (RSA_PREFIX, 0x0c) => HashKind::Sha384,
        (RSA_PREFIX, 0x0d) => HashKind::Sha512,
        (ECDSA_SHA2_PREFIX, 0x02) => HashKind::Sha256,
        (ECDSA_SHA2_PREFIX, 0x03) => HashKind::Sha384,
        (ECDSA_SHA2_PREFIX, 0x04) => HashKind::Sha512,
        _ if oid == ECDSA_SHA1 => HashKind::Sha256,
        _ => return None,
    };
    Some(match hash {
        HashKind::Sha256 => Sha256::digest(cert_der).to_vec(),
        HashKind::Sha384 => Sha384::digest(cert_der).to_vec(),
        HashKind::Sha512 => Sha512::digest(cert_der).to_vec(),
    })
}

enum HashKind {
    Sha256,
    Sha384,
    Sha512,
}

/// Returns the content of the OID in `Certificate.signatureAlgorithm`
/// (RFC 5280 section 4.1): SEQUENCE { tbsCertificate, SEQUENCE { OID, ... }, ... }.
fn signature_algorithm_oid(der: &[u8]) -> Option<&[u8]> {
    let (certificate, _) = der_element(der, 0x30)?;
    let (_, after_tbs) = der_element(certificate, 0x30)?;
    let (algorithm, _) = der_element(after_tbs, 0x30)?;
    let (oid, _) = der_element(algorithm, 0x06)?;
    Some(oid)
}

/// Splits one DER element with the expected tag off `input`; returns its
/// content and the bytes after it.
fn der_element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = input.split_first()?;
    if first != tag {
        return None;
    }
    let (&length_byte, mut rest) = rest.split_first()?;
    let length = if length_byte < 0x80 {
        usize::from(length_byte)
    } else {
        let count = usize::from(length_byte & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (bytes, after) = rest.split_at_checked(count)?;
        rest = after;
        bytes
            .iter()
            .fold(0usize, |acc, byte| (acc << 8) | usize::from(*byte))
    };
    rest.split_at_checked(length)
}

/// Builds the client configuration for `sslmode=require` (no certificate
/// verification, as in libpq) or `verify-full` (CA file and host name).
pub(crate) fn upstream_client_config(
    ca_file: Option<&std::path::Path>,
) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?;
    let config = match ca_file {
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|error| format!("cannot read CA file {}: {error}", path.display()))?;
            for cert in certs {
                let cert =
                    cert.map_err(|error| format!("invalid CA file {}: {error}", path.display()))?;
                roots.add(cert).map_err(|error| {
                    format!("invalid CA certificate in {}: {error}", path.display())
                })?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptionOnly(provider)))
            .with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// Accepts any server certificate but still checks the handshake
/// signatures, which is what libpq's `sslmode=require` provides.
#[derive(Debug)]
struct EncryptionOnly(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for EncryptionOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_point_hash_of_ecdsa_sha256_cert() {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .expect("params")
            .self_signed(&key)
            .expect("cert");
        let der = cert.der().to_vec();
        assert_eq!(
            tls_server_end_point(&der),
            Some(Sha256::digest(&der).to_vec())
        );
    }

    #[test]
    fn end_point_rejects_garbage() {
        assert_eq!(tls_server_end_point(&[0x30, 0x03, 0x02, 0x01]), None);
        assert_eq!(tls_server_end_point(&[]), None);
    }
}
