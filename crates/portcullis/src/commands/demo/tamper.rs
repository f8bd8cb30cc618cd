//! The end of the demo: the audit log verifies, and a copy with one altered byte does
//! not, naming the altered record.

use std::path::Path;

use anyhow::{bail, Context as _, Result};

use super::alert_receiver::AlertReceiver;
use super::environment::Gateway;

pub fn verify_and_tamper(gateway: &Gateway, alerts: &AlertReceiver, workdir: &Path) -> Result<()> {
    let output = gateway.command()?.args(["audit", "verify"]).output()?;
    let report = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!("audit verify failed on the untouched log: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    println!("      portcullis audit verify: {}", report.trim());

    let copy = workdir.join("audit-copy");
    std::fs::create_dir_all(&copy)?;
    let source = gateway.dir.join("audit");
    for name in ["audit.log", "audit.anchor"] {
        std::fs::copy(source.join(name), copy.join(name)).with_context(|| format!("copying {name}"))?;
    }
    let (seq, description) = alter_a_statement_record(&copy.join("audit.log"))?;
    println!("      altered record {seq} in the copy: {description}");

    let output = gateway.command()?.args(["audit", "verify", "--dir"]).arg(&copy).output()?;
    let message = String::from_utf8_lossy(&output.stderr);
    if output.status.success() {
        bail!("audit verify did not detect the altered record {seq}");
    }
    // Standard error also carries the log line of the alert; the verdict is its own line.
    let Some(verdict) = message.lines().find(|line| line.contains("verification FAILED")) else {
        bail!("audit verify failed on the altered copy without reporting a verification failure: {}", message.trim());
    };
    if !verdict.contains(&format!("record {seq}")) {
        bail!("audit verify detected tampering but did not name record {seq}: {verdict}");
    }
    println!("      portcullis audit verify --dir <copy>: exit {}, {}", output.status.code().unwrap_or(-1), verdict.trim());
    let alert = alerts.verified("audit_verification_failed")?;
    println!(
        "      {} alert {} reached the webhook receiver; its HMAC-SHA256 signature is valid",
        alert["severity"].as_str().unwrap_or("?"),
        alert["kind"].as_str().unwrap_or("?")
    );
    println!();
    Ok(())
}

/// Changes the subject of the first session record, as someone hiding who logged in
/// would, and returns its sequence number.
fn alter_a_statement_record(log: &Path) -> Result<(u64, String)> {
    let text = std::fs::read_to_string(log)?;
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for line in &mut lines {
        let value: serde_json::Value = serde_json::from_str(line)?;
        if value["type"] == "session.started" && value["subject"] == "alice" {
            let seq = value["seq"].as_u64().context("record without seq")?;
            *line = line.replacen("\"subject\":\"alice\"", "\"subject\":\"alicf\"", 1);
            std::fs::write(log, lines.join("\n") + "\n")?;
            return Ok((seq, "session owner \"alice\" changed to \"alicf\"".to_string()));
        }
    }
    bail!("no session record of alice found to alter")
}
