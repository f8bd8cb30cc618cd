//! Test harness: a shared throwaway PostgreSQL cluster, an in-memory
//! authority, a generated TLS certificate, a gateway on a free loopback
//! port, and a raw protocol client for hand-written message sequences.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use portcullis_cluster::Cluster;
use portcullis_pg::codec::{
    decode_backend, Authentication, BackendMessage, Frame, FrameDecoder, ProtocolVersion,
    SaslInitialResponse, SaslResponse, StartupMessage, StartupPacket,
};
use portcullis_pg::{
    AllowAll, AuditUnavailable, Authority, AuthorityError, AuthorizeRequest, CheckOutcome, Denial,
    ListenerConfig, PgGateway, ScramVerifiers, SessionEvent, SessionGrant, SessionId,
    SessionIdentity, SessionRegistry, StatementCheck, StatementRequest, TokenId, TokenVerifier,
    UpstreamTarget, UpstreamTls, Verdict,
};
use postgres_protocol::authentication::sasl;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use zeroize::Zeroizing;

pub const TOKEN: &str = "tok-alice-0123456789";
pub const ITERATIONS: u32 = 4096;

/// Returns the cluster shared by the tests of this binary; it stops when
/// the last test holding it finishes.
pub fn cluster() -> Arc<Cluster> {
    static SHARED: OnceLock<Mutex<Weak<Cluster>>> = OnceLock::new();
    let slot = SHARED.get_or_init(|| Mutex::new(Weak::new()));
    let mut weak = slot.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(cluster) = weak.upgrade() {
        return cluster;
    }
    let cluster = Arc::new(Cluster::start().expect("start PostgreSQL"));
    *weak = Arc::downgrade(&cluster);
    cluster
}

/// Denies statements whose text contains `portcullis_forbidden`.
pub struct DenyForbidden;

impl StatementCheck for DenyForbidden {
    fn check(&self, _session: SessionId, statement: &StatementRequest<'_>) -> CheckOutcome {
        let text = match statement {
            StatementRequest::Query { text }
            | StatementRequest::Parse { text }
            | StatementRequest::Execute { text, .. } => text,
        };
        let verdict = if text.contains("portcullis_forbidden") {
            Verdict::Deny {
                reason: "table portcullis_forbidden is not permitted".into(),
            }
        } else {
            Verdict::Allow
        };
        verdict.into()
    }
}

pub struct TestToken {
    pub id: String,
    pub secret: String,
    pub expires_at: Option<OffsetDateTime>,
}

pub struct TestUser {
    pub id: String,
    pub salt: Vec<u8>,
    pub tokens: Vec<TestToken>,
    pub disabled: bool,
}

/// An in-memory [`Authority`] that records every event.
pub struct TestAuthority {
    pub users: Mutex<HashMap<String, TestUser>>,
    pub targets: Mutex<HashMap<String, UpstreamTarget>>,
    pub events: Mutex<Vec<SessionEvent>>,
    pub audit_down: Mutex<bool>,
    /// Statement check for every new session, in place of the per-user default.
    pub statement_check: Mutex<Option<Arc<dyn StatementCheck>>>,
}

impl TestAuthority {
    pub fn new(cluster: &Cluster) -> Arc<Self> {
        let mut users = HashMap::new();
        for name in ["alice", "bob"] {
            let secret = if name == "alice" {
                TOKEN.to_owned()
            } else {
                format!("tok-{name}-secret")
            };
            users.insert(
                name.to_owned(),
                TestUser {
                    id: format!("id-{name}"),
                    salt: format!("salt-{name}-0123456").into_bytes(),
                    tokens: vec![TestToken {
                        id: format!("token-{name}"),
                        secret,
                        expires_at: None,
                    }],
                    disabled: false,
                },
            );
        }
        let target = UpstreamTarget {
            name: "app".into(),
            host: cluster.host().into(),
            port: cluster.port(),
            database: "postgres".into(),
            user: cluster.superuser().into(),
            password: Zeroizing::new(cluster.superuser_password().into()),
            tls: UpstreamTls::Disable,
            idle_timeout: None,
        };
        let mut targets = HashMap::new();
        targets.insert("app".to_owned(), target.clone());
        let mut short_idle = target.clone();
        short_idle.name = "app_idle".into();
        short_idle.idle_timeout = Some(Duration::from_millis(1500));
        targets.insert("app_idle".to_owned(), short_idle);
        let mut unreachable = target;
        unreachable.name = "down".into();
        unreachable.port = portcullis_cluster::free_port().expect("port");
        targets.insert("down".to_owned(), unreachable);

        Arc::new(Self {
            users: Mutex::new(users),
            targets: Mutex::new(targets),
            events: Mutex::new(Vec::new()),
            audit_down: Mutex::new(false),
            statement_check: Mutex::new(None),
        })
    }

    pub fn add_token(
        &self,
        user: &str,
        id: &str,
        secret: &str,
        expires_at: Option<OffsetDateTime>,
    ) {
        let mut users = self.users.lock().unwrap();
        let user = users.get_mut(user).expect("user");
        user.tokens.push(TestToken {
            id: id.into(),
            secret: secret.into(),
            expires_at,
        });
    }

    pub fn events(&self) -> Vec<SessionEvent> {
        self.events.lock().unwrap().clone()
    }

    fn live(token: &TestToken) -> bool {
        token
            .expires_at
            .is_none_or(|at| at > OffsetDateTime::now_utc())
    }
}

#[async_trait]
impl Authority for TestAuthority {
    async fn scram_verifiers(&self, user: &str) -> Result<Option<ScramVerifiers>, AuthorityError> {
        let users = self.users.lock().unwrap();
        let Some(user) = users.get(user).filter(|user| !user.disabled) else {
            return Ok(None);
        };
        let tokens = user
            .tokens
            .iter()
            .filter(|token| Self::live(token))
            .map(|token| {
                TokenVerifier::derive(
                    TokenId::new(&token.id),
                    &token.secret,
                    &user.salt,
                    ITERATIONS,
                )
            })
            .collect();
        Ok(Some(ScramVerifiers {
            salt: user.salt.clone(),
            iterations: ITERATIONS,
            tokens,
        }))
    }

    async fn check_token(
        &self,
        user: &str,
        token: &str,
    ) -> Result<Option<TokenId>, AuthorityError> {
        let users = self.users.lock().unwrap();
        let Some(user) = users.get(user).filter(|user| !user.disabled) else {
            return Ok(None);
        };
        Ok(user
            .tokens
            .iter()
            .find(|candidate| candidate.secret == token && Self::live(candidate))
            .map(|candidate| TokenId::new(&candidate.id)))
    }

    async fn authorize(&self, request: AuthorizeRequest) -> Result<SessionGrant, Denial> {
        let target = self
            .targets
            .lock()
            .unwrap()
            .get(&request.target)
            .cloned()
            .ok_or(Denial::UnknownTarget)?;
        let users = self.users.lock().unwrap();
        let user = users.get(&request.user).ok_or(Denial::UserDisabled)?;
        let token = user
            .tokens
            .iter()
            .find(|token| token.id == request.token.as_str())
            .ok_or(Denial::TokenInvalid)?;
        if request.user == "bob" && target.name == "app_idle" {
            return Err(Denial::NotPermitted("bob has no grant on app_idle".into()));
        }
        let configured = self.statement_check.lock().unwrap().clone();
        let check: Arc<dyn StatementCheck> = match configured {
            Some(check) => check,
            None if request.user == "alice" => Arc::new(DenyForbidden),
            None => Arc::new(AllowAll),
        };
        Ok(SessionGrant {
            identity: SessionIdentity {
                user_id: user.id.clone(),
                user_name: request.user.clone(),
                token: request.token.clone(),
                token_expires_at: token.expires_at,
                access_grants: Vec::new(),
                break_glass: false,
            },
            target,
            upstream_settings: Vec::new(),
            statement_check: check,
        })
    }

    async fn record(&self, event: SessionEvent) -> Result<(), AuditUnavailable> {
        if *self.audit_down.lock().unwrap() {
            return Err(AuditUnavailable("test audit log is down".into()));
        }
        self.events.lock().unwrap().push(event);
        Ok(())
    }
}

/// A self-signed certificate for `localhost` and the server configuration using it.
pub struct TestTls {
    pub server: Arc<rustls::ServerConfig>,
    pub cert: CertificateDer<'static>,
}

pub fn test_tls() -> TestTls {
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    let cert_der = cert.der().clone();
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert_der.clone()], key_der)
        .expect("server config");
    TestTls {
        server: Arc::new(server),
        cert: cert_der,
    }
}

/// Client configuration that trusts the test certificate; `alpn` sets ALPN protocols.
pub fn client_tls(cert: &CertificateDer<'static>, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).expect("root");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A running gateway.
pub struct TestGateway {
    pub addr: SocketAddr,
    pub authority: Arc<TestAuthority>,
    pub registry: Arc<SessionRegistry>,
    pub tls: TestTls,
    pub cluster: Arc<Cluster>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        self.registry.terminate_all("test finished");
    }
}

pub async fn start_gateway(adjust: impl FnOnce(&mut ListenerConfig)) -> TestGateway {
    let cluster = tokio::task::spawn_blocking(cluster).await.expect("cluster");
    start_gateway_on(cluster, adjust).await
}

/// Starts a gateway whose targets point at `cluster`.
pub async fn start_gateway_on(
    cluster: Arc<Cluster>,
    adjust: impl FnOnce(&mut ListenerConfig),
) -> TestGateway {
    let authority = TestAuthority::new(&cluster);
    let tls = test_tls();
    let mut config = ListenerConfig::new(Arc::clone(&tls.server));
    config.mock_scram_iterations = ITERATIONS;
    adjust(&mut config);
    let gateway = PgGateway::new(config, authority.clone()).expect("gateway");
    let registry = gateway.registry();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        gateway
            .serve(listener, async {
                let _ = stop.await;
            })
            .await;
    });
    TestGateway {
        addr,
        authority,
        registry,
        tls,
        cluster,
        shutdown: Some(shutdown),
    }
}

impl TestGateway {
    /// Connects with tokio-postgres over TLS (verified against the test certificate).
    pub async fn connect(
        &self,
        user: &str,
        token: &str,
        target: &str,
    ) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let connector = tokio_postgres_rustls::MakeRustlsConnect::new(
            (*client_tls(&self.tls.cert, &[])).clone(),
        );
        let config = format!(
            "host=localhost port={} user={user} password={token} dbname={target} sslmode=require application_name=tests",
            self.addr.port()
        );
        let (client, connection) = tokio_postgres::connect(&config, connector).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    pub async fn alice(&self) -> tokio_postgres::Client {
        self.connect("alice", TOKEN, "app")
            .await
            .expect("alice connects")
    }

    /// Opens a raw TLS connection via SSLRequest.
    pub async fn raw_tls(&self) -> Raw {
        let mut tcp = TcpStream::connect(self.addr).await.expect("connect");
        let mut buf = BytesMut::new();
        StartupPacket::SslRequest.encode(&mut buf).expect("encode");
        tcp.write_all(&buf).await.expect("write");
        assert_eq!(tcp.read_u8().await.expect("answer"), b'S');
        let connector = tokio_rustls::TlsConnector::from(client_tls(&self.tls.cert, &[]));
        let tls = connector
            .connect(ServerName::try_from("localhost").expect("name"), tcp)
            .await
            .expect("tls");
        Raw::new(RawStream::Tls(Box::new(tls)))
    }

    /// Opens a raw TLS connection and logs in as alice.
    pub async fn raw_session(&self) -> Raw {
        let mut raw = self.raw_tls().await;
        let frames = raw.login("alice", TOKEN, "app").await;
        assert_eq!(
            frames.last().map(Frame::tag),
            Some(b'Z'),
            "login ends with ReadyForQuery"
        );
        raw
    }
}

pub enum RawStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// A hand-driven protocol client.
pub struct Raw {
    pub stream: RawStream,
    pub buf: BytesMut,
}

impl Raw {
    pub fn new(stream: RawStream) -> Self {
        Self {
            stream,
            buf: BytesMut::new(),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        let result = match &mut self.stream {
            RawStream::Plain(s) => s.write_all(bytes).await,
            RawStream::Tls(s) => {
                let written = s.write_all(bytes).await;
                let _ = s.flush().await;
                written
            }
        };
        result.expect("send");
    }

    /// Reads the next frame, or `None` when the connection closes.
    pub async fn recv(&mut self) -> Option<Frame> {
        let decoder = FrameDecoder::new(1 << 30);
        loop {
            if let Some(frame) = decoder.decode(&mut self.buf).expect("frame") {
                return Some(frame);
            }
            self.buf.reserve(64 * 1024);
            let read = match &mut self.stream {
                RawStream::Plain(s) => s.read_buf(&mut self.buf).await,
                RawStream::Tls(s) => s.read_buf(&mut self.buf).await,
            };
            match read {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Reads frames up to and including the next ReadyForQuery.
    pub async fn until_ready(&mut self) -> Vec<Frame> {
        let mut frames = Vec::new();
        while let Some(frame) = tokio::time::timeout(Duration::from_secs(20), self.recv())
            .await
            .expect("response in time")
        {
            let done = frame.tag() == b'Z';
            frames.push(frame);
            if done {
                break;
            }
        }
        frames
    }

    /// Sends a StartupMessage, completes SCRAM and returns the frames after it.
    pub async fn login(&mut self, user: &str, token: &str, target: &str) -> Vec<Frame> {
        let mut out = BytesMut::new();
        StartupMessage {
            version: ProtocolVersion::V3_0,
            parameters: vec![("user", user), ("database", target)],
        }
        .encode(&mut out)
        .expect("encode");
        self.login_with_startup(&out, token).await
    }

    /// Sends an encoded StartupMessage, completes SCRAM and returns the frames after it.
    pub async fn login_with_startup(&mut self, startup: &[u8], token: &str) -> Vec<Frame> {
        self.send(startup).await;
        let mut scram: Option<sasl::ScramSha256> = None;
        let mut frames = Vec::new();
        while let Some(frame) = self.recv().await {
            let mut out = BytesMut::new();
            if let Ok(BackendMessage::Authentication(request)) = decode_backend(&frame) {
                match request {
                    Authentication::Sasl { .. } => {
                        let client = sasl::ScramSha256::new(
                            token.as_bytes(),
                            sasl::ChannelBinding::unsupported(),
                        );
                        SaslInitialResponse {
                            mechanism: "SCRAM-SHA-256",
                            data: Some(Bytes::copy_from_slice(client.message())),
                        }
                        .encode(&mut out)
                        .expect("encode");
                        scram = Some(client);
                    }
                    Authentication::SaslContinue { data } => {
                        let client = scram.as_mut().expect("scram");
                        client.update(&data).expect("update");
                        SaslResponse {
                            data: Bytes::copy_from_slice(client.message()),
                        }
                        .encode(&mut out)
                        .expect("encode");
                    }
                    _ => {}
                }
            }
            if !out.is_empty() {
                self.send(&out).await;
            }
            let tag = frame.tag();
            frames.push(frame);
            if tag == b'Z' || tag == b'E' {
                break;
            }
        }
        frames
    }
}

/// Returns the SQLSTATE and message of an ErrorResponse frame.
pub fn error_of(frame: &Frame) -> (String, String) {
    match decode_backend(frame).expect("decode") {
        BackendMessage::ErrorResponse(fields) => (
            fields.code().map(|c| c.to_string()).unwrap_or_default(),
            fields.message().unwrap_or_default().to_owned(),
        ),
        other => panic!("expected ErrorResponse, got {other:?}"),
    }
}

/// Returns the message type bytes of `frames` as a string, such as "1T2DCZ".
pub fn tags(frames: &[Frame]) -> String {
    frames.iter().map(|f| f.tag() as char).collect()
}

/// Runs psql against the gateway and returns (success, stdout, stderr).
pub fn psql(
    gateway: &TestGateway,
    user: &str,
    token: &str,
    target: &str,
    extra: &str,
    sql: &str,
) -> (bool, String, String) {
    let conninfo = format!(
        "host=localhost port={} user={user} dbname={target} {extra}",
        gateway.addr.port()
    );
    let output = std::process::Command::new("/usr/bin/psql")
        .args([
            "-X",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            &conninfo,
            "-c",
            sql,
        ])
        .env("PGPASSWORD", token)
        .env("PGCONNECT_TIMEOUT", "10")
        .env_remove("PGSSLMODE")
        .output()
        .expect("run psql");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
