//! Errors of loading a policy set and of opening a session.

use std::fmt;
use std::path::PathBuf;

/// The reason a policy set could not be loaded. The engine keeps the set it had.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// The policy directory contains no `*.cedar` file.
    #[error("no *.cedar policy file in {dir}; every statement would be denied, so the policy set is rejected")]
    NoPolicies {
        /// The directory.
        dir: PathBuf,
    },

    /// The built-in Cedar schema does not parse; a bug in this crate.
    #[error("the built-in Cedar schema is invalid: {message}")]
    Schema {
        /// The parser's message.
        message: String,
    },

    /// A policy file does not parse.
    #[error("{file}: {message}")]
    Parse {
        /// The file name.
        file: String,
        /// The parser's messages.
        message: String,
    },

    /// Policies break the schema, or their annotations are invalid.
    #[error("{}", PolicyIssues(.0))]
    Validation(Vec<PolicyIssue>),

    /// A PHI catalog is invalid.
    #[error("PHI catalog {file}: {message}")]
    Catalog {
        /// The file name.
        file: String,
        /// The problem.
        message: String,
    },

    /// The guardrails file is invalid.
    #[error("guardrails {file}: {message}")]
    Guardrails {
        /// The file name.
        file: String,
        /// The problem.
        message: String,
    },

    /// Resource entities could not be built (an attribute does not match the
    /// schema); a bug in this crate or a name Cedar cannot hold.
    #[error("cannot build the resource entities: {message}")]
    Entities {
        /// Cedar's message.
        message: String,
    },
}

/// One problem with one policy.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PolicyIssue {
    /// The file the policy comes from.
    pub file: String,
    /// The policy id.
    pub policy_id: String,
    /// The problem.
    pub message: String,
}

struct PolicyIssues<'a>(&'a [PolicyIssue]);

impl fmt::Display for PolicyIssues<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        write!(
            f,
            "{count} policy error{}; fix them and load again:",
            if count == 1 { "" } else { "s" }
        )?;
        for issue in self.0 {
            write!(
                f,
                "\n  {}, policy {}: {}",
                issue.file, issue.policy_id, issue.message
            )?;
        }
        Ok(())
    }
}

/// The reason a session's policy context could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The target is not in the policy set.
    #[error("target \"{target}\" is not configured in the policy set; check the target name or add its PHI catalog")]
    UnknownTarget {
        /// The target name.
        target: String,
    },

    /// The user or role entities do not fit the schema.
    #[error("cannot build the entities of user \"{user}\": {message}")]
    Principal {
        /// The user name.
        user: String,
        /// Cedar's message.
        message: String,
    },
}
