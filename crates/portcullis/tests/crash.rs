//! `serve` killed with SIGKILL while logins run against it: after a restart the audit log
//! verifies, and every login that returned 200 has its `token.issued` record, because the
//! record is durable before the token is handed out.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Account, Workdir};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Users logging in at once; each can log in a few times before its TOTP codes run out.
const USERS: [&str; 3] = ["dana", "eli", "fay"];
/// Successful logins to wait for before the kill.
const SUCCESSES_BEFORE_KILL: usize = 3;
/// The kill comes this long after those logins at most, at a time that varies from run to
/// run, so that it lands at different points of a login: password check, token insert,
/// audit append or response.
const MAX_KILL_DELAY: Duration = Duration::from_millis(300);
/// Maximum wait for those logins.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(60);

/// What one login request of the loop got back.
enum Attempt {
    /// 200, with the token and its id.
    Issued { token: String, token_id: String },
    /// Any other status.
    Refused(StatusCode),
    /// No response, because the gateway died before or while responding.
    NoResponse,
}

/// Logs `account` in over and over until the gateway stops responding. Uses a fresh TOTP
/// code while one is available and a wrong password after that, so requests keep coming.
async fn login_loop(client: reqwest::Client, url: String, account: Arc<Account>, successes: Arc<AtomicUsize>) -> Vec<Attempt> {
    let mut attempts = Vec::new();
    loop {
        let (password, code) = match account.authenticator.try_next_code() {
            Some(code) => (account.password.clone(), code),
            None => ("not-the-password".to_string(), "000000".to_string()),
        };
        let body = json!({"user": account.name, "password": password, "totp": code});
        let response = client.post(format!("{url}/v1/login")).json(&body).send().await;
        let attempt = match response {
            Err(_) => Attempt::NoResponse,
            Ok(response) => {
                let status = response.status();
                match response.json::<Value>().await {
                    Err(_) => Attempt::NoResponse,
                    Ok(body) if status == StatusCode::OK => {
                        successes.fetch_add(1, Ordering::SeqCst);
                        Attempt::Issued {
                            token: body["token"].as_str().expect("token").to_string(),
                            token_id: body["token_id"].as_str().expect("token_id").to_string(),
                        }
                    }
                    Ok(_) => Attempt::Refused(status),
                }
            }
        };
        let stop = matches!(attempt, Attempt::NoResponse);
        attempts.push(attempt);
        if stop {
            return attempts;
        }
    }
}

/// Returns a delay below `MAX_KILL_DELAY` taken from the clock's nanoseconds.
fn kill_delay() -> Duration {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").subsec_nanos();
    let max_millis = u32::try_from(MAX_KILL_DELAY.as_millis()).expect("delay fits in u32");
    Duration::from_millis(u64::from(nanos % max_millis))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_keeps_record_of_every_token() {
    let work = Workdir::init();
    // The wrong-password requests all come from 127.0.0.1 and must not lock it out.
    work.set_option("auth", "max_failures_per_address", "100000");
    work.set_option("auth", "max_failures_per_user", "100000");
    let accounts: Vec<Arc<Account>> = USERS.iter().map(|name| Arc::new(work.add_user(name, &[]))).collect();
    let gateway = work.serve().await;

    let successes = Arc::new(AtomicUsize::new(0));
    let loops: Vec<_> = accounts
        .iter()
        .map(|account| {
            tokio::spawn(login_loop(
                gateway.client.clone(),
                gateway.url.clone(),
                account.clone(),
                successes.clone(),
            ))
        })
        .collect();

    let deadline = Instant::now() + LOGIN_TIMEOUT;
    while successes.load(Ordering::SeqCst) < SUCCESSES_BEFORE_KILL {
        assert!(Instant::now() < deadline, "fewer than {SUCCESSES_BEFORE_KILL} logins within {LOGIN_TIMEOUT:?}:\n{}", gateway.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(kill_delay()).await;
    gateway.kill();

    let mut issued = Vec::new();
    let mut refused = 0;
    for handle in loops {
        for attempt in handle.await.expect("login loop") {
            match attempt {
                Attempt::Issued { token, token_id } => issued.push((token, token_id)),
                Attempt::Refused(status) => {
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "unexpected status in the login loop");
                    refused += 1;
                }
                Attempt::NoResponse => {}
            }
        }
    }
    assert!(issued.len() >= SUCCESSES_BEFORE_KILL, "{} tokens issued", issued.len());

    // The restart recovers the log, then every token issued before the crash still works.
    let restarted = work.serve().await;
    for (token, token_id) in &issued {
        let (status, body) = restarted.logout(token).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "token {token_id} after the restart: {body}");
    }
    restarted.stop_cleanly().await;

    let verify = work.run(&["audit", "verify"]);
    assert_eq!(verify.status.code(), Some(0), "verify after the crash:\n{verify}");

    let records = work.audit_records();
    let recorded: BTreeSet<&str> = records
        .iter()
        .filter(|record| record["type"] == "token.issued")
        .filter_map(|record| record["meta"]["token_id"].as_str())
        .collect();
    for (_, token_id) in &issued {
        assert!(recorded.contains(token_id.as_str()), "token {token_id} was handed out but has no token.issued record");
    }
    let failures = records.iter().filter(|record| record["type"] == "auth.login.failed").count();
    assert!(failures >= refused, "{refused} refused logins but {failures} auth.login.failed records");
    let count = |event_type: &str| records.iter().filter(|record| record["type"] == event_type).count();
    assert_eq!(count("gateway.started"), 2, "gateway.started records");
    assert_eq!(count("gateway.stopped"), 1, "only the restarted gateway stopped cleanly");
}
