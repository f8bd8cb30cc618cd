//! The demo gateway's configuration: `init` writes the defaults, and the demo adds the
//! EHR target, the policy directory, the personas' just-in-time and break-glass roles,
//! and the webhook that receives escalation alerts.

use std::path::Path;

use anyhow::{bail, Context as _, Result};

use super::environment::TARGET;
use super::personas::{Access, PERSONAS};

/// Maximum duration of a just-in-time grant of the demo's requestable roles.
const MAX_JIT_DURATION: &str = "1h";

/// Addresses the demo configuration points at.
pub struct Settings<'a> {
    pub pg_port: u16,
    pub upstream_port: u16,
    /// Relative to the configuration's directory.
    pub upstream_password_file: &'a str,
    pub webhook_url: &'a str,
    /// Relative to the configuration's directory.
    pub webhook_secret_file: &'a str,
}

/// Rewrites the configuration file `init` created.
pub fn write(path: &Path, settings: &Settings<'_>) -> Result<()> {
    let mut text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    set_option(&mut text, "postgres", "listen", &format!("\"127.0.0.1:{}\"", settings.pg_port))?;
    set_break_glass(&mut text)?;

    text.push_str(&format!(
        "\n[targets.{TARGET}]\nhost = \"127.0.0.1\"\nport = {}\ndatabase = \"ehr\"\nuser = \"portcullis_gateway\"\n\
         password_file = \"{}\"\n\
         # The throwaway cluster runs on this host without TLS.\ntls = \"disable\"\n\
         allowed_roles = [\"clinician\", \"billing\", \"researcher\", \"dba\", \"emergency\"]\n\n\
         [policy]\ndir = \"policies\"\n",
        settings.upstream_port,
        settings.upstream_password_file,
    ));
    for persona in &PERSONAS {
        if let Access::JustInTime { approvers } = persona.access {
            text.push_str(&format!(
                "\n[access.roles.{}]\napprovers = \"{approvers}\"\napprovals = 1\nmax_duration = \"{MAX_JIT_DURATION}\"\n",
                persona.role
            ));
        }
    }
    text.push_str(&format!(
        "\n# The demo process receives alerts itself and checks their signatures.\n\
         [[alerts.webhook]]\nurl = \"{}\"\nsecret_file = \"{}\"\n",
        settings.webhook_url, settings.webhook_secret_file
    ));
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Enables break-glass for the persona whose access is `Access::BreakGlass`.
fn set_break_glass(text: &mut String) -> Result<()> {
    for persona in &PERSONAS {
        if let Access::BreakGlass { entitlement, reviewers } = persona.access {
            set_option(text, "break_glass", "role", &format!("\"{}\"", persona.role))?;
            set_option(text, "break_glass", "entitlement", &format!("\"{entitlement}\""))?;
            set_option(text, "break_glass", "reviewers", &format!("\"{reviewers}\""))?;
        }
    }
    Ok(())
}

/// Sets `key = value` in the existing `[section]`: replaces the key's line, or adds
/// one below the section header.
fn set_option(text: &mut String, section: &str, key: &str, value: &str) -> Result<()> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let header = format!("[{section}]");
    let Some(start) = lines.iter().position(|line| line.trim() == header) else {
        bail!("the configuration written by init has no [{section}] section");
    };
    let end = lines[start + 1..]
        .iter()
        .position(|line| line.trim_start().starts_with('['))
        .map_or(lines.len(), |offset| start + 1 + offset);
    let setting = format!("{key} = {value}");
    let existing = (start + 1..end).find(|&index| {
        let line = lines[index].trim_start();
        !line.starts_with('#') && line.split_once('=').is_some_and(|(name, _)| name.trim() == key)
    });
    match existing {
        Some(index) => lines[index] = setting,
        None => lines.insert(start + 1, setting),
    }
    *text = lines.join("\n") + "\n";
    Ok(())
}
