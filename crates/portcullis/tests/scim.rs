//! SCIM 2.0 against a running gateway, with request sequences shaped as Okta and
//! Microsoft Entra ID send them: create, look up by userName, deactivate, group members
//! added and removed, paging, and SCIM error bodies.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, Gateway, Workdir};
use portcullis_cluster::Cluster;
use reqwest::StatusCode;
use serde_json::{json, Value};

const TOKEN: &str = "scim-test-token-0123456789abcdef0123456789";
const SCIM_JSON: &str = "application/scim+json";

/// Creates a working directory with SCIM on, the `clinician` role, and the group
/// "Cardiology Clinicians" mapped to it.
fn scim_workdir() -> Workdir {
    let workdir = Workdir::init();
    let token_file = workdir.dir.join("keys/scim.token");
    std::fs::write(&token_file, TOKEN).unwrap();
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    workdir.set_option("scim", "enabled", "true");
    workdir.set_option("scim", "token_file", "\"keys/scim.token\"");
    workdir.set_option("scim.groups", "\"Cardiology Clinicians\"", "\"clinician\"");
    workdir.run(&["role", "add", "clinician"]).success();
    workdir
}

/// Sends one SCIM request with the bearer token; returns the status and the JSON body
/// (`Null` for an empty body).
async fn scim(gateway: &Gateway, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    scim_with_token(gateway, method, path, body, TOKEN).await
}

async fn scim_with_token(gateway: &Gateway, method: reqwest::Method, path: &str, body: Option<Value>, token: &str) -> (StatusCode, Value) {
    let mut request = gateway
        .client
        .request(method, format!("{}/scim/v2{path}", gateway.url))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.header("content-type", SCIM_JSON).body(body.to_string());
    }
    let response = request.send().await.expect("send the SCIM request");
    let status = response.status();
    let text = response.text().await.unwrap();
    let value = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")) };
    (status, value)
}

/// POSTs a user as Okta does and returns its id.
async fn create_user(gateway: &Gateway, user_name: &str) -> String {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Alice", "familyName": "Smith"},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "displayName": "Alice Smith",
        "locale": "en-US",
        "externalId": format!("00u-{user_name}"),
        "groups": [],
        "password": "ignored-by-portcullis",
        "active": true
    });
    let (status, created) = scim(gateway, reqwest::Method::POST, "/Users", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_str().unwrap().to_string()
}

fn filter_path(resource: &str, attribute: &str, value: &str) -> String {
    let filter = format!("{attribute} eq \"{value}\"");
    let encoded: String = url_encode(&filter);
    format!("/{resource}?filter={encoded}")
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

fn roles_of(workdir: &Workdir, user: &str) -> Vec<String> {
    let output = workdir.run(&["role", "list", "--output", "json"]).success();
    output
        .json_lines()
        .iter()
        .filter(|role| role["members"].as_array().unwrap().iter().any(|member| member == user))
        .map(|role| role["role"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn okta_user_lifecycle() {
    let workdir = scim_workdir();
    let gateway = workdir.serve().await;

    let id = create_user(&gateway, "alice.smith@example.com").await;
    let (status, found) = scim(&gateway, reqwest::Method::GET, &filter_path("Users", "userName", "Alice.Smith@example.com"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["totalResults"], 1, "{found}");
    let user = &found["Resources"][0];
    assert_eq!(user["id"], id.as_str());
    assert_eq!(user["userName"], "alice.smith@example.com");
    assert_eq!(user["externalId"], "00u-alice.smith@example.com");
    assert_eq!(user["active"], true);
    let (_, none) = scim(&gateway, reqwest::Method::GET, &filter_path("Users", "userName", "nobody@example.com"), None).await;
    assert_eq!(none["totalResults"], 0);

    let deactivate = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": false}}]
    });
    let (status, patched) = scim(&gateway, reqwest::Method::PATCH, &format!("/Users/{id}"), Some(deactivate)).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["active"], false);
    let shown = workdir.run(&["user", "show", "alice.smith.example.com", "--output", "json"]).success();
    assert_eq!(shown.json()["disabled"], true, "{}", shown.stdout);

    let (status, _) = scim(&gateway, reqwest::Method::DELETE, &format!("/Users/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, error) = scim(&gateway, reqwest::Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
    assert_eq!(error["status"], "404");
    gateway.stop_cleanly().await;

    let records = workdir.audit_records();
    let via_scim = |event: &str| records.iter().any(|record| record["type"] == event && record["meta"]["via"] == "scim");
    assert!(via_scim("user.created"));
    assert!(via_scim("user.disabled"));
}

#[tokio::test(flavor = "multi_thread")]
async fn entra_deactivate_and_groups() {
    let workdir = scim_workdir();
    let gateway = workdir.serve().await;
    let id = create_user(&gateway, "bob@example.com").await;
    let other = create_user(&gateway, "carol@example.com").await;

    let (status, group) = scim(
        &gateway,
        reqwest::Method::POST,
        "/Groups",
        Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Cardiology Clinicians", "members": []})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let group_id = group["id"].as_str().unwrap().to_string();
    let (_, found) = scim(&gateway, reqwest::Method::GET, &format!("{}&excludedAttributes=members", filter_path("Groups", "displayName", "Cardiology Clinicians")), None).await;
    assert_eq!(found["totalResults"], 1);
    assert!(found["Resources"][0].get("members").is_none(), "{found}");

    let add = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Add", "path": "members", "value": [{"value": id}, {"value": other}]}]
    });
    let (status, patched) = scim(&gateway, reqwest::Method::PATCH, &format!("/Groups/{group_id}"), Some(add)).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["members"].as_array().unwrap().len(), 2);
    assert_eq!(roles_of(&workdir, "bob.example.com"), vec!["clinician"]);
    assert_eq!(roles_of(&workdir, "carol.example.com"), vec!["clinician"]);

    let remove = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Remove", "path": format!("members[value eq \"{id}\"]")}]
    });
    let (status, patched) = scim(&gateway, reqwest::Method::PATCH, &format!("/Groups/{group_id}"), Some(remove)).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["members"].as_array().unwrap().len(), 1);
    assert!(roles_of(&workdir, "bob.example.com").is_empty(), "the group role stays after removal");
    assert_eq!(roles_of(&workdir, "carol.example.com"), vec!["clinician"]);

    let deactivate = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
    });
    let (status, patched) = scim(&gateway, reqwest::Method::PATCH, &format!("/Users/{id}"), Some(deactivate)).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["active"], false);
    let reactivate = json!({"Operations": [{"op": "Replace", "path": "active", "value": "True"}]});
    let (_, patched) = scim(&gateway, reqwest::Method::PATCH, &format!("/Users/{id}"), Some(reactivate)).await;
    assert_eq!(patched["active"], true);

    let (status, _) = scim(&gateway, reqwest::Method::DELETE, &format!("/Groups/{group_id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(roles_of(&workdir, "carol.example.com").is_empty(), "deleting the group revokes its role");
    gateway.stop_cleanly().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_granted_role_survives_group_removal() {
    let workdir = scim_workdir();
    let gateway = workdir.serve().await;
    let id = create_user(&gateway, "dave@example.com").await;
    workdir.run(&["role", "grant", "clinician", "dave.example.com", "--by", "admin"]).success();
    let (_, group) = scim(
        &gateway,
        reqwest::Method::POST,
        "/Groups",
        Some(json!({"displayName": "Cardiology Clinicians", "members": [{"value": id}]})),
    )
    .await;
    let group_id = group["id"].as_str().unwrap();

    let remove = json!({"Operations": [{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]});
    let (status, _) = scim(&gateway, reqwest::Method::PATCH, &format!("/Groups/{group_id}"), Some(remove)).await;
    assert_eq!(status, StatusCode::OK);

    assert_eq!(roles_of(&workdir, "dave.example.com"), vec!["clinician"]);
    gateway.stop_cleanly().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn paging_errors_and_discovery() {
    let workdir = scim_workdir();
    let gateway = workdir.serve().await;
    for name in ["p1@example.com", "p2@example.com", "p3@example.com"] {
        create_user(&gateway, name).await;
    }

    // admin plus three users
    let (status, page) = scim(&gateway, reqwest::Method::GET, "/Users?startIndex=2&count=2", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["totalResults"], 4, "{page}");
    assert_eq!(page["startIndex"], 2);
    assert_eq!(page["itemsPerPage"], 2);
    assert_eq!(page["Resources"].as_array().unwrap().len(), 2);
    let (_, last) = scim(&gateway, reqwest::Method::GET, "/Users?startIndex=4&count=10", None).await;
    assert_eq!(last["itemsPerPage"], 1);

    let (status, error) = scim(&gateway, reqwest::Method::POST, "/Users", Some(json!({"userName": "P1@example.com"}))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["scimType"], "uniqueness");
    assert_eq!(error["status"], "409");

    let (status, error) = scim(&gateway, reqwest::Method::GET, "/Users?filter=userName%20co%20%22p%22", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["scimType"], "invalidFilter");

    let (status, error) = scim(&gateway, reqwest::Method::POST, "/Users", Some(json!({"displayName": "no user name"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["scimType"], "invalidValue");

    let (status, error) = scim_with_token(&gateway, reqwest::Method::GET, "/Users", None, "wrong-token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");

    for path in ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas"] {
        let (status, body) = scim(&gateway, reqwest::Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let (_, config) = scim(&gateway, reqwest::Method::GET, "/ServiceProviderConfig", None).await;
    assert_eq!(config["patch"]["supported"], true);
    gateway.stop_cleanly().await;
}

const UPSTREAM_ROLE: &str = "scim_gateway";
const UPSTREAM_PASSWORD: &str = "scim-upstream-password";

fn open_session(workdir: &Workdir, pg_port: u16, user: &str, token: &str) -> Child {
    let connection = format!(
        "host=localhost port={pg_port} dbname=app user={user} sslmode=verify-full sslrootcert={}",
        workdir.dir.join("tls/ca.crt").display()
    );
    Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .arg(connection)
        .args(["-c", "SELECT pg_sleep(60)"])
        .env("PGPASSWORD", token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start psql")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_deactivation_ends_live_session() {
    let cluster = Cluster::start().expect("start cluster");
    cluster
        .psql("postgres", &format!("CREATE ROLE {UPSTREAM_ROLE} LOGIN PASSWORD '{UPSTREAM_PASSWORD}'"))
        .expect("create role");
    cluster.psql("postgres", &format!("CREATE DATABASE app OWNER {UPSTREAM_ROLE}")).expect("create database");

    let workdir = scim_workdir();
    let pg_port = free_port();
    workdir.set_option("postgres", "enabled", "true");
    workdir.set_option("postgres", "listen", &format!("\"127.0.0.1:{pg_port}\""));
    let password_file = workdir.dir.join("keys/app.password");
    std::fs::write(&password_file, UPSTREAM_PASSWORD).unwrap();
    std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    for (key, value) in [
        ("host", "\"127.0.0.1\"".to_string()),
        ("port", cluster.port().to_string()),
        ("database", "\"app\"".to_string()),
        ("user", format!("\"{UPSTREAM_ROLE}\"")),
        ("password_file", "\"keys/app.password\"".to_string()),
        ("tls", "\"disable\"".to_string()),
        ("allowed_roles", "[\"clinician\"]".to_string()),
    ] {
        workdir.set_option("targets.app", key, &value);
    }
    let gateway = workdir.serve().await;
    // A user made by an administrator, which the identity provider links by userName.
    let leaver = workdir.add_user("leaver", &[]);
    workdir.run(&["role", "grant", "clinician", "leaver", "--by", "admin"]).success();
    let token = gateway.login_ok(&leaver).await["token"].as_str().unwrap().to_string();
    let (_, found) = scim(&gateway, reqwest::Method::GET, &filter_path("Users", "userName", "leaver"), None).await;
    assert_eq!(found["totalResults"], 1, "{found}");
    let id = found["Resources"][0]["id"].as_str().unwrap().to_string();

    let mut session = open_session(&workdir, pg_port, "leaver", &token);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let count = cluster
            .psql("postgres", "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'")
            .expect("count sessions");
        if count.trim() == "1" {
            break;
        }
        assert!(Instant::now() < deadline, "the session did not start; count {count:?}\n{}", gateway.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let deactivate = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
    let (status, body) = scim(&gateway, reqwest::Method::PATCH, &format!("/Users/{id}"), Some(deactivate)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let started = Instant::now();
    let ended = loop {
        if session.try_wait().expect("poll psql").is_some() {
            break started.elapsed();
        }
        assert!(started.elapsed() < Duration::from_secs(5), "the session did not end within 5 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let output = session.wait_with_output().expect("psql output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(ended < Duration::from_secs(1), "the session ended after {ended:?}, not within a second");
    assert!(stderr.contains("access revoked"), "the FATAL message says why: {stderr}");
    gateway.stop_cleanly().await;
}
