//! `portcullis audit verify|tail|search`.

use std::process::ExitCode;

use anyhow::{anyhow, Context as _, Result};
use portcullis_alert::{Alert, AlertKind, Severity};
use portcullis_audit::{read_records, AuditConfig, Outcome, ReadRecord, RecordFilter};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::cli::{AuditCommand, AuditSearchArgs, AuditVerifyArgs, OutputFormat};
use crate::context::Context;
use portcullis_core::config::Config;
use crate::output::{print_table, rfc3339};

pub async fn run(context: &Context, command: &AuditCommand, output: OutputFormat) -> Result<ExitCode> {
    match command {
        AuditCommand::Verify(args) => verify(&context.config, args, output).await,
        AuditCommand::Tail(args) => {
            let records = collect(context, RecordFilter::default(), args.decrypt, usize::MAX, None)?;
            let start = records.len().saturating_sub(args.lines);
            print_records(&records[start..], output);
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Search(args) => {
            let filter = search_filter(context, args).await?;
            let client = args.client.map(|client| client.to_string());
            let records = collect(context, filter, args.decrypt, args.limit, client.as_deref())?;
            print_records(&records, output);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Verifies the log with the public key only: no master key or signing key needed.
pub async fn verify(config: &Config, args: &AuditVerifyArgs, output: OutputFormat) -> Result<ExitCode> {
    let key = Context::verifying_key_of(config)?;
    let alert_config = config;
    let config = match &args.dir {
        Some(dir) => AuditConfig::new(dir),
        None => AuditConfig::new(config.resolve(&config.audit.dir)),
    };
    match portcullis_audit::verify(&config.log_path(), &config.anchor_path(), &key) {
        Ok(report) => {
            if output == OutputFormat::Json {
                println!(
                    "{}",
                    serde_json::json!({
                        "intact": true,
                        "records": report.records,
                        "last_seq": report.last_seq,
                        "checkpoints": report.checkpoints,
                        "anchor_seq": report.anchor_seq,
                        "unanchored_records": report.unanchored_records,
                    })
                );
            } else {
                println!(
                    "audit log intact: {} records (last seq {}), {} signed checkpoints, anchored through seq {}",
                    report.records, report.last_seq, report.checkpoints, report.anchor_seq
                );
                if report.unanchored_records > 0 {
                    println!(
                        "note: {} newest record(s) are not yet covered by a signed checkpoint",
                        report.unanchored_records
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            if output == OutputFormat::Json {
                println!(
                    "{}",
                    serde_json::json!({"intact": false, "first_bad_seq": error.seq(), "error": error.to_string()})
                );
            } else {
                eprintln!("audit log verification FAILED: {error}");
            }
            raise_verification_alert(alert_config, &config.log_path(), &error).await;
            Ok(ExitCode::from(1))
        }
    }
}

/// Sends a critical alert to the sinks of `[alerts]`. The alert is not appended to the
/// audit log: opening a log that failed verification for appending could truncate a torn
/// final line, which is evidence.
async fn raise_verification_alert(config: &Config, log_path: &std::path::Path, error: &portcullis_audit::VerifyError) {
    let alert = Alert::new(AlertKind::AuditVerificationFailed, Severity::Critical, log_path.display().to_string())
        .detail("first_bad_seq", error.seq())
        .detail("error", error.to_string())
        .detail("operator", crate::context::operator());
    let alerts = match crate::commands::alerting::start(config, None) {
        Ok(alerts) => alerts,
        Err(start_error) => {
            eprintln!("warning: the verification failure alert was not sent: {start_error:#}");
            return;
        }
    };
    if let Err(raise_error) = alerts.raise(alert).await {
        eprintln!("warning: raising the verification failure alert failed: {raise_error}");
    }
    crate::commands::alerting::flush(&alerts).await;
}

async fn search_filter(context: &Context, args: &AuditSearchArgs) -> Result<RecordFilter> {
    let actor = match &args.user {
        Some(name) => {
            let store = context.open_store().await?;
            let accounts = context.accounts(store)?;
            Some(crate::commands::user::find_user(&accounts, name).await?.id.0)
        }
        None => None,
    };
    Ok(RecordFilter {
        actor,
        event_type_prefix: args.event.clone(),
        since: args.since.as_deref().map(parse_time).transpose()?,
        until: args.until.as_deref().map(parse_time).transpose()?,
        target: args.target.clone(),
        outcome: args.outcome.as_deref().map(parse_outcome).transpose()?,
        from_seq: None,
    })
}

fn parse_time(text: &str) -> Result<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339)
        .with_context(|| format!("invalid time {text:?}: expected RFC 3339 such as 2026-01-31T08:00:00Z"))
}

fn parse_outcome(text: &str) -> Result<Outcome> {
    serde_json::from_value(serde_json::Value::from(text))
        .map_err(|_| anyhow!("invalid outcome {text:?}: expected success, failure, denied or error"))
}

/// Reads matching records in log order, at most `limit`, keeping only those from
/// `client` when given.
fn collect(
    context: &Context,
    filter: RecordFilter,
    decrypt: bool,
    limit: usize,
    client: Option<&str>,
) -> Result<Vec<ReadRecord>> {
    let payload_key = decrypt.then(|| context.payload_key());
    let path = context.audit_config().log_path();
    let reader = read_records(&path, filter, payload_key.as_ref())
        .with_context(|| format!("reading the audit log {}", path.display()))?;
    let mut records = Vec::new();
    for record in reader {
        let record = record?;
        if client.is_some_and(|client| record.record.client_addr.as_deref() != Some(client)) {
            continue;
        }
        records.push(record);
        if records.len() >= limit {
            break;
        }
    }
    Ok(records)
}

fn print_records(records: &[ReadRecord], output: OutputFormat) {
    if output == OutputFormat::Json {
        for record in records {
            println!("{}", record.to_json());
        }
        return;
    }
    let rows = records
        .iter()
        .map(|read| {
            let record = &read.record;
            vec![
                record.seq.to_string(),
                rfc3339(record.timestamp),
                record.event_type.clone(),
                record.outcome.as_str().to_string(),
                record.actor.map(|actor| actor.to_string()).unwrap_or_default(),
                record.target.clone().unwrap_or_default(),
                record.subject.clone(),
            ]
        })
        .collect();
    print_table(&["SEQ", "TIME", "EVENT", "OUTCOME", "ACTOR", "TARGET", "SUBJECT"], rows);
}
