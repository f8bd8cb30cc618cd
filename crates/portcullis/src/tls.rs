//! TLS material: the certificate `init` generates and the rustls server configuration
//! every listener uses.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};

/// A generated private CA and a server certificate it signed, all in PEM.
pub struct GeneratedTls {
    pub ca_cert_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
}

/// Generates a private CA and a server certificate valid for `localhost`,
/// 127.0.0.1, ::1 and the extra `hosts`.
///
/// The CA's key is not kept: it signs this one certificate and is discarded, so a
/// stolen working directory cannot mint more certificates that clients trust.
pub fn generate(hosts: &[String]) -> Result<GeneratedTls> {
    let ca_key = KeyPair::generate().context("generating the CA key")?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).context("CA parameters")?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Portcullis local CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).context("signing the CA certificate")?;

    let mut names = vec!["localhost".to_string()];
    names.extend(hosts.iter().cloned());
    let mut params = CertificateParams::new(names).context("server certificate names")?;
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse()?));
    params.subject_alt_names.push(SanType::IpAddress("::1".parse()?));
    params
        .distinguished_name
        .push(DnType::CommonName, "Portcullis gateway");
    let server_key = KeyPair::generate().context("generating the server key")?;
    let server_cert = params
        .signed_by(&server_key, &ca_cert, &ca_key)
        .context("signing the server certificate")?;

    Ok(GeneratedTls {
        ca_cert_pem: ca_cert.pem(),
        server_cert_pem: server_cert.pem(),
        server_key_pem: server_key.serialize_pem(),
    })
}

/// Builds the rustls server configuration (TLS 1.2 and 1.3 only) from PEM files.
pub fn server_config(cert_file: &Path, key_file: &Path) -> Result<Arc<rustls::ServerConfig>> {
    let certs = load_certs(cert_file)?;
    let key_pem = std::fs::read(key_file)
        .with_context(|| format!("reading the TLS key {}", key_file.display()))?;
    let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .with_context(|| format!("parsing the TLS key {}", key_file.display()))?
        .with_context(|| format!("no private key found in {}", key_file.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
    .context("choosing TLS versions")?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .with_context(|| format!("the TLS key {} does not match the certificate", key_file.display()))?;
    Ok(Arc::new(config))
}

/// Reads every certificate of a PEM file.
pub fn load_certs(path: &Path) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>> {
    let pem = std::fs::read(path).with_context(|| format!("reading the certificate {}", path.display()))?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("parsing the certificate {}", path.display()))?;
    anyhow::ensure!(!certs.is_empty(), "no certificate found in {}", path.display());
    Ok(certs)
}
