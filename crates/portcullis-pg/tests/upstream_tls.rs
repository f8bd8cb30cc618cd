//! Upstream TLS modes against a PostgreSQL cluster with TLS enabled.
//! The cluster also offers SCRAM-SHA-256-PLUS, so the gateway's upstream
//! login uses channel binding.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{start_gateway_on, TOKEN};
use portcullis_cluster::Cluster;
use portcullis_pg::UpstreamTls;

/// Writes the certificate and key where the server process can read them:
/// owned by the `postgres` user when the tests run as root (the cluster
/// then runs as `postgres`), mode 0600 as PostgreSQL requires for keys.
fn write_server_files(dir: &Path, cert_pem: &str, key_pem: &str) {
    use std::os::unix::fs::PermissionsExt;
    for (name, content) in [("server.crt", cert_pem), ("server.key", key_pem)] {
        let path = dir.join(name);
        std::fs::write(&path, content).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        if is_root() {
            let id = |flag: &str| -> u32 {
                let out = std::process::Command::new("id")
                    .args([flag, "postgres"])
                    .output()
                    .expect("id");
                String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .parse()
                    .expect("numeric id")
            };
            std::os::unix::fs::chown(&path, Some(id("-u")), Some(id("-g"))).expect("chown");
        }
    }
    if is_root() {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    }
}

fn is_root() -> bool {
    let out = std::process::Command::new("id")
        .arg("-u")
        .output()
        .expect("id");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

#[tokio::test]
async fn upstream_tls_require_and_verify_full() {
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    let dir = tempfile::tempdir().expect("dir");
    write_server_files(dir.path(), &cert.pem(), &key.serialize_pem());
    let ca_file = dir.path().join("ca.crt");
    std::fs::write(&ca_file, cert.pem()).expect("ca");

    let cert_file = dir.path().join("server.crt").display().to_string();
    let key_file = dir.path().join("server.key").display().to_string();
    let cluster = tokio::task::spawn_blocking(move || {
        Cluster::start_with_settings(&[
            ("ssl", "on"),
            ("ssl_cert_file", &cert_file),
            ("ssl_key_file", &key_file),
        ])
    })
    .await
    .expect("task")
    .expect("start TLS cluster");
    let gateway = start_gateway_on(Arc::new(cluster), |_| {}).await;

    for (name, tls) in [
        ("app_require", UpstreamTls::Require),
        (
            "app_verify",
            UpstreamTls::VerifyFull {
                ca_file: ca_file.clone(),
            },
        ),
    ] {
        let mut target = gateway.authority.targets.lock().unwrap()["app"].clone();
        target.name = name.into();
        target.host = "localhost".into();
        target.tls = tls;
        gateway
            .authority
            .targets
            .lock()
            .unwrap()
            .insert(name.into(), target);
        let client = gateway
            .connect("alice", TOKEN, name)
            .await
            .expect("connects over upstream TLS");
        let ssl: bool = client
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .await
            .expect("pg_stat_ssl")
            .get(0);
        assert!(ssl, "{name}: upstream connection uses TLS");
    }

    let mut target = gateway.authority.targets.lock().unwrap()["app"].clone();
    target.name = "app_wrong_ca".into();
    target.host = "localhost".into();
    let other = rcgen::CertificateParams::new(vec!["localhost".into()])
        .expect("params")
        .self_signed(&rcgen::KeyPair::generate().expect("key"))
        .expect("cert");
    let wrong_ca = dir.path().join("wrong.crt");
    std::fs::write(&wrong_ca, other.pem()).expect("write");
    target.tls = UpstreamTls::VerifyFull { ca_file: wrong_ca };
    gateway
        .authority
        .targets
        .lock()
        .unwrap()
        .insert("app_wrong_ca".into(), target);
    let error = gateway
        .connect("alice", TOKEN, "app_wrong_ca")
        .await
        .expect_err("untrusted certificate");
    assert_eq!(
        error.as_db_error().expect("server error").code().code(),
        "08001"
    );
}
