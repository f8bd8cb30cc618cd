//! `portcullis access review`: privilege-creep review from the store and the audit log.

mod review;

use std::time::Duration;

use anyhow::{Context as _, Result};
use portcullis_audit::{read_records, RecordFilter};
use portcullis_core::access::GrantSource;
use portcullis_core::{Clock, SystemClock};
use portcullis_store::Store;
use time::OffsetDateTime;

use crate::cli::{AccessReviewArgs, OutputFormat};
use crate::context::Context;
use crate::output::{print_table, rfc3339};
use review::{Holding, HoldingSource, PrivilegedRoles, ReviewRow, Usage};

const SECONDS_PER_DAY: u64 = 86_400;

pub async fn review(context: &Context, args: &AccessReviewArgs, output: OutputFormat) -> Result<()> {
    let now = SystemClock.now();
    let store = context.open_store().await?;
    let holdings = load_holdings(store.as_ref(), now).await?;
    let usage = load_usage(context)?;
    let unused_for = Duration::from_secs(u64::from(args.unused_days) * SECONDS_PER_DAY);
    let rows = review::review(&holdings, &usage, now, unused_for);
    match output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        OutputFormat::Csv => print!("{}", to_csv(&rows)),
        OutputFormat::Table => print_review_table(&rows),
    }
    Ok(())
}

/// Collects every user's standing roles and grants in force.
async fn load_holdings(store: &dyn Store, now: OffsetDateTime) -> Result<Vec<Holding>> {
    let mut holdings = Vec::new();
    for user in store.list_users().await? {
        for membership in store.list_user_roles(user.id).await? {
            holdings.push(Holding {
                user_id: user.id.0,
                user: user.name.to_string(),
                role: membership.role.name.to_string(),
                source: HoldingSource::Standing,
                granted_at: membership.grant.granted_at,
            });
        }
        for grant in store.list_active_grants(user.id, now).await? {
            let source = match grant.source {
                GrantSource::Jit => HoldingSource::JustInTime,
                GrantSource::BreakGlass => HoldingSource::BreakGlass,
            };
            holdings.push(Holding {
                user_id: user.id.0,
                user: user.name.to_string(),
                role: grant.role.to_string(),
                source,
                granted_at: grant.starts_at,
            });
        }
    }
    Ok(holdings)
}

/// Reads the whole audit log for role use. Records are read without verifying the chain;
/// `portcullis audit verify` checks it.
fn load_usage(context: &Context) -> Result<Usage> {
    let log_path = context.audit_config().log_path();
    let privileged = PrivilegedRoles {
        admin: context.config.alerts.admin_roles.clone(),
        approvers: context
            .config
            .access
            .roles
            .iter()
            .map(|(role, rule)| (role.clone(), rule.approvers.clone()))
            .collect(),
        reviewers: context.config.break_glass.reviewers.clone(),
    };
    let mut usage = Usage::default();
    let records = read_records(&log_path, RecordFilter::default(), None)
        .with_context(|| format!("reading the audit log {}", log_path.display()))?;
    for record in records {
        let record = record.with_context(|| format!("reading the audit log {}", log_path.display()))?;
        usage.observe(&record.record, &privileged);
    }
    Ok(usage)
}

const HEADER: [&str; 6] = ["USER", "ROLE", "SOURCE", "GRANTED_AT", "LAST_USED", "REVOKE_CANDIDATE"];

fn row_cells(row: &ReviewRow) -> Vec<String> {
    vec![
        row.user.clone(),
        row.role.clone(),
        row.source.as_str().to_string(),
        rfc3339(row.granted_at),
        row.last_used.map(rfc3339).unwrap_or_else(|| "never".to_string()),
        row.revoke_candidate.to_string(),
    ]
}

fn print_review_table(rows: &[ReviewRow]) {
    print_table(&HEADER, rows.iter().map(row_cells).collect());
}

/// Formats the rows as RFC 4180 CSV with a lowercase header line. `last_used` is empty
/// for a role never used.
fn to_csv(rows: &[ReviewRow]) -> String {
    let mut text = HEADER.map(|title| title.to_lowercase()).join(",");
    text.push_str("\r\n");
    for row in rows {
        let mut cells = row_cells(row);
        if row.last_used.is_none() {
            cells[4].clear();
        }
        let quoted: Vec<String> = cells.iter().map(|cell| csv_field(cell)).collect();
        text.push_str(&quoted.join(","));
        text.push_str("\r\n");
    }
    text
}

fn csv_field(cell: &str) -> String {
    if cell.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}
