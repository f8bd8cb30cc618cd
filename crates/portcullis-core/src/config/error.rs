//! Errors from loading a configuration file.

use std::path::PathBuf;

/// A configuration file that cannot be used. Each message names the key, the value
/// and what is expected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "cannot read configuration file {path}: {source}; pass the right file with -c/--config"
    )]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid configuration{}: {message}", location(file, line))]
    Syntax {
        file: Option<PathBuf>,
        line: Option<usize>,
        message: String,
    },
    #[error("invalid configuration{}: `{key}` = {value}: {expected}", location(file, &None))]
    Invalid {
        file: Option<PathBuf>,
        key: String,
        value: String,
        expected: String,
    },
}

fn location(file: &Option<PathBuf>, line: &Option<usize>) -> String {
    match (file, line) {
        (Some(file), Some(line)) => format!(" in {}, line {line}", file.display()),
        (Some(file), None) => format!(" in {}", file.display()),
        (None, Some(line)) => format!(" at line {line}"),
        (None, None) => String::new(),
    }
}

impl ConfigError {
    /// Converts a parse error, naming the full key path (such as `auth.lockout`) and
    /// the line it is on.
    pub(crate) fn from_toml(
        error: serde_path_to_error::Error<toml::de::Error>,
        text: &str,
    ) -> ConfigError {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let line = inner
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        let detail = inner.message().trim().to_string();
        let message = if path.is_empty() || path == "." {
            detail
        } else {
            format!("`{path}`: {detail}")
        };
        ConfigError::Syntax {
            file: None,
            line,
            message,
        }
    }

    pub(crate) fn invalid(key: &str, value: impl std::fmt::Display, expected: &str) -> ConfigError {
        ConfigError::Invalid {
            file: None,
            key: key.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }

    /// Adds the file name to the message.
    pub(crate) fn in_file(self, path: &std::path::Path) -> ConfigError {
        match self {
            ConfigError::Syntax { line, message, .. } => ConfigError::Syntax {
                file: Some(path.to_path_buf()),
                line,
                message,
            },
            ConfigError::Invalid {
                key,
                value,
                expected,
                ..
            } => ConfigError::Invalid {
                file: Some(path.to_path_buf()),
                key,
                value,
                expected,
            },
            other => other,
        }
    }
}
